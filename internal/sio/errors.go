package sio

import "errors"

// Malformed-input errors of the decoders, for errors.Is. Each closes the
// client's connection with the reason "parse error", as the reference
// server does when its decoder throws.
var (
	ErrUnknownType         = errors.New("sio: unknown packet type")
	ErrBadAttachments      = errors.New("sio: malformed attachment count")
	ErrTooManyAttachments  = errors.New("sio: too many binary attachments")
	ErrBadNamespace        = errors.New("sio: malformed namespace")
	ErrBadID               = errors.New("sio: ack id too long")
	ErrBadJSON             = errors.New("sio: invalid JSON data")
	ErrBadPayload          = errors.New("sio: invalid payload for the packet type")
	ErrBadPlaceholder      = errors.New("sio: binary placeholder points to no attachment")
	ErrUnexpectedBinary    = errors.New("sio: binary message when no attachment was announced")
	ErrUnexpectedText      = errors.New("sio: text packet while attachments were awaited")
	ErrAttachmentsTooLarge = errors.New("sio: attachments larger than the payload limit")
)

// Reason is why a socket or a connection ended, in Socket.IO's names.
// It is an error so the spark learns it from Handler.OnClose; the root
// package reads it with errors.As against interface{ DisconnectReason()
// string }.
type Reason string

// The reasons the server side can see (socket.io's DisconnectReason).
const (
	ReasonServerDisconnect  Reason = "server namespace disconnect"
	ReasonClientDisconnect  Reason = "client namespace disconnect"
	ReasonServerShutdown    Reason = "server shutting down"
	ReasonPingTimeout       Reason = "ping timeout"
	ReasonTransportClose    Reason = "transport close"
	ReasonTransportError    Reason = "transport error"
	ReasonParseError        Reason = "parse error"
	ReasonForcedClose       Reason = "forced close"
	ReasonForcedServerClose Reason = "forced server close"
)

func (r Reason) Error() string { return "sio: " + string(r) }

// DisconnectReason names the reason.
func (r Reason) DisconnectReason() string { return string(r) }
