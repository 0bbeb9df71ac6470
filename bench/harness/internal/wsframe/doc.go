// Package wsframe is the small piece of RFC 6455 the benchmark needs on both
// ends: reading and appending frames, and the opening handshake over a raw TCP
// connection.
//
// The load generator uses it for every server under test so that all of them
// are driven by exactly the same client code; the raw "limit" server uses it to
// stay free of any WebSocket framework. It supports what the benchmark sends
// and receives (text, binary, continuation, ping, pong, close; masked and
// unmasked) and nothing more, except that a client may negotiate
// permessage-deflate without context takeover and inflate what it receives
// (DialOptions.Deflate, Reader.Deflate); it never compresses.
package wsframe
