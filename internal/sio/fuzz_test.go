package sio

import (
	"bytes"
	"testing"

	"github.com/allspark/allspark/internal/events"
	"github.com/allspark/allspark/parser"
)

// FuzzDecode: any text decodes or fails with an error, never panics, and a
// decoded packet's header re-encodes to the bytes it was read from.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`0`, `0/admin,{"a":1}`, `2["a",1]`, `212["a"]`, `51-["a",{"_placeholder":true,"num":0}]`,
		`62-/x,9[]`, `3[]`, `4{"message":"x"}`, `2/x`, `5-`, `21234567890123456789[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		p, err := Decode(text, 10)
		if err != nil {
			return
		}
		if p.Attachments > 10 || len(p.Namespace) > MaxNamespaceLen {
			t.Fatalf("bounds not applied: %+v", p)
		}
		head := AppendHeader(nil, p.Type, p.Attachments, p.Namespace, p.ID, p.HasID)
		if !bytes.HasSuffix(text, p.Data) {
			t.Fatalf("data %q is not the tail of %q", p.Data, text)
		}
		q, err := Decode(append(head, p.Data...), 10)
		if err != nil || q.Type != p.Type || q.Namespace != p.Namespace || q.ID != p.ID || q.HasID != p.HasID ||
			q.Attachments != p.Attachments || !bytes.Equal(q.Data, p.Data) {
			t.Fatalf("%q re-encodes as %q: %+v, %v", text, head, q, err)
		}
	})
}

// FuzzConn feeds a connection a sequence of messages (text packets and
// binary attachments, split at 0xff): it never panics, never holds more
// attachment bytes than MaxMessage, and after a malformed input it
// delivers nothing more.
func FuzzConn(f *testing.F) {
	f.Add([]byte("0\xff2[\"a\",1]\xff51-[\"a\",{\"_placeholder\":true,\"num\":0}]\xff\x01\x02\xff3/x,1[]"))
	f.Add([]byte("0\xff0/admin,{\"token\":\"ok\"}\xff1/admin,\xff2[\"message\",{}]"))
	f.Add([]byte("0\xff52-[{\"_placeholder\":true,\"num\":5}]\xff\x00\xff\x00"))
	f.Fuzz(func(t *testing.T, input []byte) {
		c, _, host := newTestConn(t, Config{MaxMessage: 256, MaxAttachments: 3})
		for i, part := range bytes.Split(input, []byte{0xff}) {
			binary := len(part) > 0 && part[0] < 0x20 && i > 0
			c.OnMessage(binary, part)
			if c.pendingSize > 256+len(part) {
				t.Fatalf("holding %d attachment bytes", c.pendingSize)
			}
		}
		if r := host.sock("/"); r != nil && c.failed {
			n := len(r.values)
			c.OnMessage(false, []byte(`2["after"]`))
			if len(r.values) != n {
				t.Fatal("delivered after a parse error")
			}
		}
	})
}

// FuzzFrameEvent: the sliced fast path for event envelopes frames exactly
// what the value path does, whatever the name and arguments hold.
func FuzzFrameEvent(f *testing.F) {
	f.Add("chat", "hello", uint64(0))
	f.Add(`a"b\`, `],"id":3}`, uint64(7))
	f.Add("ü", "\u2028", uint64(1<<53-1))
	f.Fuzz(func(t *testing.T, name, arg string, id uint64) {
		if name == "" || id > 1<<53-1 {
			return
		}
		v := events.NewEvent(name, []any{arg, []any{arg}}, id)
		payload, _, err := parser.JSON{}.Encode(v)
		if err != nil {
			return
		}
		fast, ok := frameJSON(payload)
		slow, _ := frameValue(v)
		if !ok || !bytes.Equal(fast, slow) {
			t.Fatalf("fast %q, value path %q", fast, slow)
		}
	})
}

// FuzzFrameAck: the sliced fast path for replies frames exactly what the
// value path does.
func FuzzFrameAck(f *testing.F) {
	f.Add("ok", uint64(1))
	f.Add(`]}`, uint64(1<<53-1))
	f.Fuzz(func(t *testing.T, arg string, id uint64) {
		if id == 0 || id > 1<<53-1 {
			return
		}
		v := events.NewAck(id, []any{arg, map[string]any{"k": arg}})
		payload, _, err := parser.JSON{}.Encode(v)
		if err != nil {
			return
		}
		fast, ok := frameAckJSON(payload)
		slow, _ := frameValue(v)
		if !ok || !bytes.Equal(fast, slow) {
			t.Fatalf("fast %q, value path %q", fast, slow)
		}
	})
}
