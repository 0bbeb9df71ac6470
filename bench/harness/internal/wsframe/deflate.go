package wsframe

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"sync"
)

// DeflateOffer is the Sec-WebSocket-Extensions offer of DialOptions.Deflate:
// permessage-deflate with no context takeover in either direction, so every
// message is compressed on its own and neither end keeps a dictionary
// between messages (the cheapest form for a server holding idle
// connections, and the one a client can decode statelessly).
const DeflateOffer = "permessage-deflate; client_no_context_takeover; server_no_context_takeover"

// deflateTail is the empty stored block that RFC 7692 §7.2.1 strips from
// every compressed message; the receiver appends it back before inflating.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff}

// inflaters pools flate decompressors (tens of KB each) across connections:
// one is held only while a message is being inflated.
var inflaters = sync.Pool{New: func() any { return flate.NewReader(bytes.NewReader(nil)) }}

// Inflate appends to dst the decompressed payload of one permessage-deflate
// message compressed without context takeover. Output over limit yields
// ErrTooLarge.
func Inflate(dst, payload []byte, limit int64) ([]byte, error) {
	fr := inflaters.Get().(io.ReadCloser)
	defer inflaters.Put(fr)
	src := io.MultiReader(bytes.NewReader(payload), bytes.NewReader(deflateTail))
	if err := fr.(flate.Resetter).Reset(src, nil); err != nil {
		return dst, err
	}
	var chunk [4096]byte
	for {
		n, err := fr.Read(chunk[:])
		dst = append(dst, chunk[:n]...)
		if int64(len(dst)) > limit {
			return dst, ErrTooLarge
		}
		// The tail ends a non-final block: the stream runs out of input
		// right after it, which is the end of the message.
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return dst, nil
		}
		if err != nil {
			return dst, fmt.Errorf("%w: inflate: %v", ErrProtocol, err)
		}
	}
}
