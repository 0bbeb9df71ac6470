package sio

import (
	"github.com/allspark/allspark/parser"
)

// placeholder is what a binary value becomes in a packet's JSON data; the
// num-th binary Engine.IO message after the packet carries its bytes.
type placeholder struct {
	Placeholder bool `json:"_placeholder"`
	Num         int  `json:"num"`
}

// maxDepth bounds the walks over values; JSON decoding already bounds the
// nesting of what a client sends, this bounds what the server writes.
const maxDepth = 64

// reconstruct replaces the placeholders in v (decoded JSON) by their
// attachments, as []byte. A placeholder whose num names no attachment is
// malformed (ErrBadPlaceholder); attachments no placeholder names are
// ignored, as the reference does.
func reconstruct(v any, atts [][]byte) (any, error) {
	return reconstructAt(v, atts, 0)
}

func reconstructAt(v any, atts [][]byte, depth int) (any, error) {
	if depth > maxDepth {
		return v, nil
	}
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			r, err := reconstructAt(e, atts, depth+1)
			if err != nil {
				return nil, err
			}
			x[i] = r
		}
	case map[string]any:
		if ph, ok := x["_placeholder"].(bool); ok && ph {
			num, ok := x["num"].(float64)
			if !ok || num != float64(int(num)) || num < 0 || int(num) >= len(atts) {
				return nil, ErrBadPlaceholder
			}
			return atts[int(num)], nil
		}
		for k, e := range x {
			r, err := reconstructAt(e, atts, depth+1)
			if err != nil {
				return nil, err
			}
			x[k] = r
		}
	}
	return v, nil
}

// hasBinary reports whether v holds a raw byte value ([]byte or
// parser.Binary) in the dynamic shapes deconstruct walks.
func hasBinary(v any, depth int) bool {
	if depth > maxDepth {
		return false
	}
	switch x := v.(type) {
	case []byte, parser.Binary:
		return true
	case []any:
		for _, e := range x {
			if hasBinary(e, depth+1) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if hasBinary(e, depth+1) {
				return true
			}
		}
	}
	return false
}

// deconstruct returns v with every raw byte value replaced by a
// placeholder, appending the bytes to atts in placeholder order. Containers
// that hold binary are copied, never modified: v may be the application's
// own value, shared by every receiver of a broadcast.
func deconstruct(v any, atts *[][]byte) any {
	return deconstructAt(v, atts, 0)
}

func deconstructAt(v any, atts *[][]byte, depth int) any {
	if depth > maxDepth || !hasBinary(v, depth) {
		return v
	}
	switch x := v.(type) {
	case []byte:
		*atts = append(*atts, x)
		return placeholder{Placeholder: true, Num: len(*atts) - 1}
	case parser.Binary:
		*atts = append(*atts, x)
		return placeholder{Placeholder: true, Num: len(*atts) - 1}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deconstructAt(e, atts, depth+1)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deconstructAt(e, atts, depth+1)
		}
		return out
	}
	return v
}
