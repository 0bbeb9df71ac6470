package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Decode converts one received argument (as a parser produced it: maps,
// slices, numbers, strings, bytes) into dst, a pointer. It goes through JSON
// so it behaves the same whichever parser carried the message, and it is
// strict: unknown object fields and trailing data are errors, so a client
// that sends the wrong shape hears about it instead of getting zero values.
func Decode(arg any, dst any) error {
	if p, ok := dst.(*any); ok {
		*p = arg
		return nil
	}
	raw, err := json.Marshal(arg)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		return describe(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data")
	}
	return nil
}

// describe rewrites encoding/json errors into messages that make sense to
// the remote caller, who never saw our Go types.
func describe(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Errorf("field %q: got %s, want %s", te.Field, te.Value, te.Type)
		}
		return fmt.Errorf("got %s, want %s", te.Value, te.Type)
	}
	return err
}
