package eio

import (
	"bytes"
	"testing"
)

// benchPackets is a typical poll response: Primus frames as messages, a
// heartbeat ping, one small binary message.
var benchPackets = []Packet{
	{Type: Message, Data: []byte(`"primus::ping::1700000000000"`)},
	{Type: Message, Data: []byte(`{"room":"lobby","text":"hello, world, this is a chat line"}`)},
	{Type: Ping},
	{Type: Message, Binary: true, Data: bytes.Repeat([]byte{1, 2, 3, 4}, 16)},
	{Type: Message, Data: []byte(`{"room":"lobby","text":"another chat line of similar size"}`)},
}

func BenchmarkAppendPayload(b *testing.B) {
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendPayload(buf[:0], benchPackets...); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodePayload(b *testing.B) {
	src, err := AppendPayload(nil, benchPackets...)
	if err != nil {
		b.Fatal(err)
	}
	body := make([]byte, len(src))
	dst := make([]Packet, 0, len(benchPackets))
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		copy(body, src) // binary packets decode in place
		if dst, err = DecodePayload(dst[:0], body, Limits{MaxPackets: 16}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPayloadScanner(b *testing.B) {
	src, err := AppendPayload(nil, benchPackets...)
	if err != nil {
		b.Fatal(err)
	}
	body := make([]byte, len(src))
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	var s PayloadScanner
	for b.Loop() {
		copy(body, src)
		s.Reset(body, Limits{MaxPackets: 16})
		for s.Next() {
		}
		if s.Err() != nil {
			b.Fatal(s.Err())
		}
	}
}
