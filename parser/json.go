package parser

import (
	"bytes"
	"encoding/json"
	"sync"
)

// JSON is the default parser, wire-identical to Primus's JSON parser.
type JSON struct{}

// Name implements Parser.
func (JSON) Name() string { return "json" }

// Encode implements Parser. Binary values travel as binary frames untouched;
// everything else is json.Marshal'd (which escapes U+2028 and U+2029).
func (JSON) Encode(v any) ([]byte, bool, error) {
	switch b := v.(type) {
	case Binary:
		return b, true, nil
	case json.RawMessage:
		if json.Valid(b) {
			return b, false, nil
		}
	}
	e := encoders.Get().(*jsonEncoder)
	defer encoders.Put(e)
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		return nil, false, &Error{Op: "encode", Parser: "json", Err: err}
	}
	b := e.buf.Bytes()
	return append([]byte(nil), b[:len(b)-1]...), false, nil // drop Encode's newline
}

// jsonEncoder is a reusable encoder that, like JSON.stringify, leaves <, >
// and & unescaped (json.Marshal would escape them for HTML), while still
// escaping U+2028 and U+2029.
type jsonEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := &jsonEncoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}}

// Decode implements Parser. A binary frame is returned as a copied Binary.
func (JSON) Decode(payload []byte, binary bool) (any, error) {
	if binary {
		return Binary(append([]byte(nil), payload...)), nil
	}
	var v any
	if err := json.Unmarshal(payload, &v); err != nil {
		return nil, &Error{Op: "decode", Parser: "json", Err: err}
	}
	return v, nil
}

// Unmarshal implements Parser.
func (JSON) Unmarshal(payload []byte, binary bool, dst any) error {
	if binary {
		return unmarshalBinary(payload, dst)
	}
	if err := json.Unmarshal(payload, dst); err != nil {
		return &Error{Op: "decode", Parser: "json", Err: err}
	}
	return nil
}

func unmarshalBinary(payload []byte, dst any) error {
	cp := append([]byte(nil), payload...)
	switch d := dst.(type) {
	case *Binary:
		*d = cp
	case *[]byte:
		*d = cp
	case *any:
		*d = Binary(cp)
	default:
		return ErrBinaryTarget
	}
	return nil
}
