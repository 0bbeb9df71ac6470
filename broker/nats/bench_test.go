package nats_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/allspark/allspark"
	natsbroker "github.com/allspark/allspark/broker/nats"
)

// BenchmarkPublish measures the publish path (envelope, subject, hand-off to
// nats.go) against an embedded server with one subscribed peer node.
//
//	go test -run '^$' -bench Publish -benchmem ./broker/nats
func BenchmarkPublish(b *testing.B) {
	for _, bc := range []struct {
		name     string
		pub      allspark.Publication
		receiver bool
	}{
		// Without a receiver the figures are the publish path alone; with
		// one they include the in-process receiving node's decode too.
		{"room/no-receiver", allspark.Publication{Node: "pub", Rooms: []string{"chat.room.42"}}, false},
		{"room", allspark.Publication{Node: "pub", Rooms: []string{"chat.room.42"}}, true},
		{"broadcast", allspark.Publication{Node: "pub", All: true}, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := runEmbedded(b, 0)
			o := natsbroker.Options{Servers: []string{s.ClientURL()}, ProbeInterval: -1}
			pb, sb := newBroker(b, o), newBroker(b, o)
			ctx := context.Background()
			r := newRecorder()
			r.discard = true
			if bc.receiver {
				if err := sb.Register(ctx, "sub", r); err != nil {
					b.Fatal(err)
				}
				if err := sb.Subscribe(ctx, "sub", "chat.room.42"); err != nil {
					b.Fatal(err)
				}
			}
			p := bc.pub
			p.Payload = bytes.Repeat([]byte("x"), 256)
			b.ReportAllocs()
			b.SetBytes(int64(len(p.Payload)))
			b.RunParallel(func(pb2 *testing.PB) {
				for pb2.Next() {
					if _, err := pb.Publish(ctx, &p); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkSend measures a node-to-node message.
func BenchmarkSend(b *testing.B) {
	s := runEmbedded(b, 0)
	br := newBroker(b, natsbroker.Options{Servers: []string{s.ClientURL()}, ProbeInterval: -1})
	ctx := context.Background()
	msg := bytes.Repeat([]byte("m"), 64)
	b.ReportAllocs()
	for b.Loop() {
		if err := br.Send(ctx, "a", "b", msg); err != nil {
			b.Fatal(err)
		}
	}
}
