package sio

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/allspark/allspark/parser"
)

func TestReconstructReplacesPlaceholders(t *testing.T) {
	var v any
	_ = json.Unmarshal([]byte(`["up",{"_placeholder":true,"num":1},{"nested":[{"_placeholder":true,"num":0}]}]`), &v)
	got, err := reconstruct(v, [][]byte{{1}, {2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	list := got.([]any)
	if !bytes.Equal(list[1].([]byte), []byte{2, 3}) {
		t.Errorf("arg 1 = %v", list[1])
	}
	inner := list[2].(map[string]any)["nested"].([]any)[0]
	if !bytes.Equal(inner.([]byte), []byte{1}) {
		t.Errorf("nested = %v", inner)
	}
}

func TestReconstructRefusesPlaceholdersPointingNowhere(t *testing.T) {
	for _, data := range []string{
		`[{"_placeholder":true,"num":2}]`,
		`[{"_placeholder":true,"num":-1}]`,
		`[{"_placeholder":true,"num":0.5}]`,
		`[{"_placeholder":true,"num":"0"}]`,
		`[{"_placeholder":true}]`,
	} {
		var v any
		_ = json.Unmarshal([]byte(data), &v)
		if _, err := reconstruct(v, [][]byte{{1}, {2}}); !errors.Is(err, ErrBadPlaceholder) {
			t.Errorf("%s: err = %v", data, err)
		}
	}
}

func TestDeconstructCopiesAndNumbersBinaries(t *testing.T) {
	orig := map[string]any{"a": []byte{1}, "b": "text"}
	list := []any{"ev", orig, parser.Binary{2}}
	var atts [][]byte
	out := deconstruct(list, &atts).([]any)
	if len(atts) != 2 {
		t.Fatalf("atts = %v", atts)
	}
	if _, still := orig["a"].([]byte); !still {
		t.Error("the application's map was modified")
	}
	enc, _ := json.Marshal(out)
	var back any
	_ = json.Unmarshal(enc, &back)
	rebuilt, err := reconstruct(back, atts)
	if err != nil {
		t.Fatal(err)
	}
	r := rebuilt.([]any)
	if !bytes.Equal(r[1].(map[string]any)["a"].([]byte), []byte{1}) || !bytes.Equal(r[2].([]byte), []byte{2}) {
		t.Errorf("round trip = %v", r)
	}
	plain := []any{"ev", 1}
	if got := deconstruct(plain, &atts); &got.([]any)[0] != &plain[0] {
		t.Error("a value without binary was copied")
	}
}
