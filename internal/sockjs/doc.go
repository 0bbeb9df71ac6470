// Package sockjs is a SockJS server (sockjs-protocol 0.3, as sockjs-node
// 0.3.24 serves it) on the transport seam: every SockJS session opens
// through a transport.Acceptor and is a spark's transport.Session, so a
// SockJS client shares rooms, events, targets and bounds with every other.
//
// # Two paths
//
// A [Server] serves one prefix in one of two modes. Under the Primus
// pathname each SockJS message is a Primus encoding, double-encoded as the
// stock Primus client on the sockjs transformer sends it (the WebSocket
// frame ["\"hello\""]); the session hands the string's bytes to the
// spark's parser (Handler.OnMessage) and quotes each outgoing encoding
// into the frame, Primus pings included. On the plain path (Config.Plain)
// a stock sockjs-client exchanges plain strings: an incoming string is
// delivered with transport.ValueHandler.OnValue, and outgoing messages are
// re-framed by a protocol of their own (slot 1): a message written as a
// string reaches the client as that string, other values as their JSON
// text, and the quoted frame is made once per broadcast.
//
// # Routes
//
// Below the prefix: /info (GET, OPTIONS), session URLs
// /<server>/<session>/<transport> for websocket, xhr, xhr_send,
// xhr_streaming, eventsource, htmlfile, jsonp and jsonp_send, the raw
// /websocket (plain path only; under the Primus pathname that URL is the
// plain Primus WebSocket wire already) and, with Config.Greeting, the
// greeting. The iframe page is not served (404): only the iframe-based
// transports use it, and browsers fall back to them after all of these.
//
// # Sessions
//
// session.go is a session's state: the one receiving connection attached
// at a time (receiver.go; a second gets c[2010,"Another connection still
// open"]), one timer that is the heartbeat ("h") while a receiver is
// attached and the disconnect delay while none is, the close frame kept
// for later receivers once the server closed it. A receiver is a held
// HTTP response (xhr.go: polls, one frame each; streaming.go: streams, up
// to the response limit) or the session's WebSocket (websocket.go). The
// spark's writer waits in WriteBatch while no receiver is attached, so
// data the client has not fetched yet stays in the spark's bounded send
// queue; the session itself holds at most the frame being written.
//
// # Bounds
//
// Sessions by MaxSessions (503), session ids by MaxSessionID (404), send
// bodies by MaxMessage (413, the session ends), one send per session at a
// time (the next waits for it before its body is read), a session without
// a receiving request by DisconnectDelay, a streaming response by
// ResponseLimit, a frame write by WriteTimeout.
//
// # Wire format
//
// Frames to the client: "o" (open), "h" (heartbeat), "a" followed by a
// JSON array of strings (messages), "c" followed by [code,"reason"]
// (close). Strings are quoted as sockjs-node quotes them ([AppendQuote]).
// From the client: a JSON array of strings, or on a WebSocket a single
// value; [Decoder] checks the whole input before delivering the first
// message.
package sockjs
