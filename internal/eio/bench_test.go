package eio

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"

	"github.com/allspark/allspark/internal/transport"
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

// discardResponse is a ResponseWriter that keeps nothing: the benchmark
// measures answerPoll, not an HTTP stack.
type discardResponse struct{ h http.Header }

func (d *discardResponse) Header() http.Header         { return d.h }
func (d *discardResponse) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardResponse) WriteHeader(int)             {}
func (d *discardResponse) Flush()                      {}

// BenchmarkPollAnswer writes a batch of shared payloads (as a broadcast
// queues them; one binary) as one poll response. The allocations are per
// response (headers, the poll's bookkeeping), none per message: compare
// allocs/op of msgs=1 and msgs=16.
func BenchmarkPollAnswer(b *testing.B) {
	for _, n := range []int{1, 16} {
		b.Run(fmt.Sprintf("msgs=%d", n), func(b *testing.B) { benchPollAnswer(b, n) })
	}
}

func benchPollAnswer(b *testing.B, count int) {
	srv, err := NewServer(Config{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	s := &session{srv: srv, changed: make(chan struct{})}
	batch := make([]transport.Message, count)
	payload := []byte(`{"room":"lobby","text":"hello, world, this is a chat line"}`)
	for i := range batch {
		batch[i] = transport.Message{Payload: payload, Shared: &transport.Shared{}}
	}
	if count > 3 {
		batch[3] = transport.Message{Payload: bytes.Repeat([]byte{7}, 48), Binary: true}
	}
	w := &discardResponse{h: http.Header{}}
	b.ReportAllocs()
	b.SetBytes(int64(count * len(payload)))
	for b.Loop() {
		p := &heldPoll{w: w, done: make(chan struct{})}
		s.poll = nil // taken, as a writer takes it
		if n, _, err := s.answerPoll(p, nil, batch); err != nil || n != count {
			b.Fatal(n, err)
		}
	}
}
