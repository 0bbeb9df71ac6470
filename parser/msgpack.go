package parser

import (
	"bytes"

	"github.com/vmihailenco/msgpack/v5"
)

// MsgPack encodes every message as MessagePack in a binary frame.
type MsgPack struct{}

// Name implements Parser.
func (MsgPack) Name() string { return "msgpack" }

// Encode implements Parser. A Binary value is encoded as MessagePack bin.
func (MsgPack) Encode(v any) ([]byte, bool, error) {
	if b, ok := v.(Binary); ok {
		v = []byte(b)
	}
	out, err := msgpack.Marshal(v)
	if err != nil {
		return nil, true, &Error{Op: "encode", Parser: "msgpack", Err: err}
	}
	return out, true, nil
}

// Decode implements Parser. Maps decode to map[string]any, bin to []byte.
// Trailing bytes after the first value, declared lengths beyond the payload
// and nesting deeper than 100 are errors (checked before decoding, so a
// hostile length cannot make the decoder allocate).
func (m MsgPack) Decode(payload []byte, _ bool) (any, error) {
	var v any
	if err := m.Unmarshal(payload, true, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// Unmarshal implements Parser.
func (MsgPack) Unmarshal(payload []byte, _ bool, dst any) error {
	if err := checkMsgPack(payload); err != nil {
		return &Error{Op: "decode", Parser: "msgpack", Err: err}
	}
	r := bytes.NewReader(payload)
	dec := msgpack.NewDecoder(r)
	if err := dec.Decode(dst); err != nil {
		return &Error{Op: "decode", Parser: "msgpack", Err: err}
	}
	if r.Len() != 0 {
		return &Error{Op: "decode", Parser: "msgpack", Err: errTrailing}
	}
	return nil
}
