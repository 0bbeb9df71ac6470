// Package parser holds the message encodings that Allspark speaks on the wire.
//
// A Parser turns an application value into the payload of one WebSocket frame
// and back. The server and the Go client share these implementations, so the
// framing exists exactly once.
//
// # JSON (the default)
//
// Identical to Primus's JSON parser: one write is one text frame holding the
// JSON encoding of the value, with U+2028 and U+2029 escaped (encoding/json does
// this already). A value of type [Binary] is sent as a binary frame, untouched,
// and an incoming binary frame is handed over as [Binary] without decoding, so
// binary data round-trips.
//
// # MessagePack
//
// Every message is one binary frame holding the MessagePack encoding of the
// value. Incoming text frames are decoded the same way (their bytes are read as
// MessagePack), so a peer that mislabels frames still works.
//
// # Writing your own
//
// Implement [Parser]. Decode must not keep the slice it is given: the caller may
// reuse it once Decode returns. Decode must return an error, never panic, for
// bytes that are not a valid encoding.
package parser
