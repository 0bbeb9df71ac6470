package client_test

import (
	"context"
	"errors"
	"testing"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/client"
)

func TestQueueOverflowDropsOldest(t *testing.T) {
	got := make(chan any, 16)
	url := serve(t, newServer(t, allspark.Options{}, func(srv *allspark.Server) {
		srv.OnConnection(func(_ context.Context, s *allspark.Spark) error {
			s.OnData(func(d any) { got <- d })
			return nil
		})
	}))
	rec := newRecorder(t)
	c, err := client.New(url, client.Options{Manual: true, QueueSize: 3, OnEvent: rec.on})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	for i := 1; i <= 5; i++ {
		if err := c.Write(i); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []int{1, 2} {
		ev := rec.expect(client.EventDrop)[0]
		if ev.Data != want || !errors.Is(ev.Err, client.ErrQueueFull) {
			t.Fatalf("drop event = %v %v, want %d ErrQueueFull", ev.Data, ev.Err, want)
		}
	}
	if err := c.Open(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []float64{3, 4, 5} {
		if v := recv(t, got); v != want {
			t.Fatalf("server got %v, want %v", v, want)
		}
	}
	rec.expect(client.EventOpen)
}

func TestUnlimitedQueue(t *testing.T) {
	rec := newRecorder(t)
	c, err := client.New("ws://127.0.0.1:1", client.Options{Manual: true, QueueSize: client.Unlimited, OnEvent: rec.on})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	for i := range client.DefaultQueueSize + 10 {
		if err := c.Write(i); err != nil {
			t.Fatal(err)
		}
	}
	c.Destroy()
	<-c.Done()
	select {
	case ev := <-rec.ch:
		t.Fatalf("unexpected %q with an unlimited queue", ev.Kind)
	default:
	}
}
