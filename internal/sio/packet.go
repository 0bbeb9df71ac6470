package sio

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// Type is a Socket.IO packet type.
type Type byte

// Packet types (socket.io-parser's PacketType).
const (
	Connect      Type = 0
	Disconnect   Type = 1
	Event        Type = 2
	Ack          Type = 3
	ConnectError Type = 4
	BinaryEvent  Type = 5
	BinaryAck    Type = 6
)

// maxIDDigits bounds an ack id: ids must survive a float64 round trip
// (JavaScript numbers), so at most 15 digits (below 2^53). The reference
// turns a longer run of digits into a float that no longer names the
// request; here it is a malformed packet.
const maxIDDigits = 15

// MainNamespace is the namespace of a packet without one.
const MainNamespace = "/"

// Packet is one decoded Socket.IO packet. Data is the raw JSON after the
// header (nil when absent); it aliases the decoded text.
type Packet struct {
	Type        Type
	Namespace   string
	ID          uint64 // ack id; meaningful when HasID
	HasID       bool
	Attachments int // binary attachments that follow (BinaryEvent, BinaryAck)
	Data        []byte
}

// Decode reads the text form of a packet: a type digit, for binary types
// the attachment count and '-', an optional "/namespace,", an optional ack
// id, then JSON data. maxAttachments bounds the count the client may
// announce, so a header cannot make the server wait for (and keep) more
// binary messages than that. The data must be valid JSON of the shape the
// type allows (checked by the caller once decoded; here only validity).
func Decode(text []byte, maxAttachments int) (Packet, error) {
	var p Packet
	if len(text) == 0 || text[0] < '0' || text[0] > '6' {
		return p, ErrUnknownType
	}
	p.Type = Type(text[0] - '0')
	i := 1
	if p.Type == BinaryEvent || p.Type == BinaryAck {
		start := i
		for i < len(text) && text[i] >= '0' && text[i] <= '9' {
			i++
		}
		if i == start || i >= len(text) || text[i] != '-' || i-start > 4 {
			return p, ErrBadAttachments
		}
		n, _ := strconv.Atoi(string(text[start:i]))
		if n > maxAttachments {
			return p, ErrTooManyAttachments
		}
		p.Attachments = n
		i++
	}
	p.Namespace = MainNamespace
	if i < len(text) && text[i] == '/' {
		end := bytes.IndexByte(text[i:], ',')
		if end < 0 {
			p.Namespace = string(text[i:])
			i = len(text)
		} else {
			p.Namespace = string(text[i : i+end])
			i += end + 1
		}
		if len(p.Namespace) > MaxNamespaceLen {
			return p, ErrBadNamespace
		}
	}
	start := i
	for i < len(text) && text[i] >= '0' && text[i] <= '9' {
		i++
	}
	if i > start {
		if i-start > maxIDDigits {
			return p, ErrBadID
		}
		p.ID, _ = strconv.ParseUint(string(text[start:i]), 10, 64)
		p.HasID = true
	}
	if i < len(text) {
		p.Data = text[i:]
		if !json.Valid(p.Data) {
			return p, ErrBadJSON
		}
	}
	return p, nil
}

// MaxNamespaceLen is the longest namespace name a packet may carry.
const MaxNamespaceLen = 256

// AppendHeader appends a packet's header: type, attachment count, the
// namespace unless it is the main one, the ack id.
func AppendHeader(dst []byte, t Type, attachments int, nsp string, id uint64, hasID bool) []byte {
	dst = append(dst, '0'+byte(t))
	if t == BinaryEvent || t == BinaryAck {
		dst = strconv.AppendInt(dst, int64(attachments), 10)
		dst = append(dst, '-')
	}
	if nsp != "" && nsp != MainNamespace {
		dst = append(dst, nsp...)
		dst = append(dst, ',')
	}
	if hasID {
		dst = strconv.AppendUint(dst, id, 10)
	}
	return dst
}

// withNamespace returns frame (a packet for the main namespace) with nsp
// inserted after its type and attachment count: how a frame made once for
// every receiver is sent to a socket of another namespace.
func withNamespace(frame []byte, nsp string) []byte {
	if nsp == MainNamespace || len(frame) == 0 {
		return frame
	}
	i := 1
	if t := Type(frame[0] - '0'); t == BinaryEvent || t == BinaryAck {
		if j := bytes.IndexByte(frame, '-'); j > 0 {
			i = j + 1
		}
	}
	out := make([]byte, 0, len(frame)+len(nsp)+1)
	out = append(out, frame[:i]...)
	out = append(out, nsp...)
	out = append(out, ',')
	return append(out, frame[i:]...)
}
