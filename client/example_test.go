package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/client"
)

// echoServer starts an in-process Allspark server that echoes every message.
func echoServer() (url string, stop func()) {
	srv, _ := allspark.New(allspark.Options{})
	srv.OnConnection(func(_ context.Context, s *allspark.Spark) error {
		s.OnData(func(d any) { _ = s.Write(d) })
		return nil
	})
	ts := httptest.NewServer(srv)
	return ts.URL, func() {
		_ = srv.Close()
		ts.Close()
	}
}

// Dial, write, and receive the echo through the event callback.
func Example() {
	url, stop := echoServer()
	defer stop()

	data := make(chan any, 1)
	c, err := client.Dial(context.Background(), url, client.Options{
		OnEvent: func(ev client.Event) {
			if ev.Kind == client.EventData {
				data <- ev.Data
			}
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Destroy()

	_ = c.Write(map[string]any{"hello": "world"})
	fmt.Println(<-data)
	// Output: map[hello:world]
}

// Events arrive in Primus's order. Here the server ends the spark with
// reconnect (as a restart does), and the client comes back.
func Example_reconnect() {
	srv, _ := allspark.New(allspark.Options{})
	sparks := make(chan *allspark.Spark, 2)
	srv.OnConnection(func(_ context.Context, s *allspark.Spark) error {
		sparks <- s
		return nil
	})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()

	events := make(chan client.Event, 16)
	c, err := client.Dial(context.Background(), ts.URL, client.Options{
		Reconnect: client.ReconnectOptions{Min: 10 * time.Millisecond},
		OnEvent:   func(ev client.Event) { events <- ev },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Destroy()
	fmt.Println(<-events)

	(<-sparks).End(nil, true) // no primus::server::close: reconnect
	fmt.Println(<-events)
	for ev := range events {
		fmt.Println(ev.Kind)
		if ev.Kind == client.EventReconnectScheduled {
			fmt.Println("  attempt", ev.Attempt.N, "of", ev.Attempt.Retries, "after", ev.Attempt.Delay)
		}
		if ev.Kind == client.EventOpen {
			break
		}
	}
	// Output:
	// open
	// close: client: connection closed with status 1000
	// reconnect scheduled
	//   attempt 1 of 10 after 10ms
	// reconnect
	// reconnected
	// open
}

// Writes made before the connection opens are queued and sent in order.
func ExampleClient_Open() {
	got := make(chan any, 3)
	srv, _ := allspark.New(allspark.Options{})
	srv.OnConnection(func(_ context.Context, s *allspark.Spark) error {
		s.OnData(func(d any) { got <- d })
		return nil
	})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()

	c, _ := client.New(ts.URL, client.Options{Manual: true})
	defer c.Destroy()
	for _, m := range []string{"one", "two", "three"} {
		_ = c.Write(m) // queued: not open yet
	}
	fmt.Println(c.ReadyState())
	if err := c.Open(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.ReadyState(), <-got, <-got, <-got)
	// Output:
	// closed
	// open one two three
}

// A refused upgrade is an *AuthError, and the client does not retry.
func ExampleAuthError() {
	srv, _ := allspark.New(allspark.Options{
		Authorization: func(r *http.Request) error {
			return &allspark.AuthError{Message: "token expired", Authenticate: `Bearer realm="demo"`}
		},
	})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()

	_, err := client.Dial(context.Background(), ts.URL, client.Options{})
	var ae *client.AuthError
	if errors.As(err, &ae) {
		fmt.Println(ae.Status, ae.Message, ae.Authenticate)
	}
	// Output: 401 token expired Bearer realm="demo"
}

// The server's id for this connection.
func ExampleClient_ID() {
	url, stop := echoServer()
	defer stop()
	c, err := client.Dial(context.Background(), url, client.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Destroy()
	id, err := c.ID(context.Background())
	fmt.Println(len(id) > 0, err)
	// Output: true <nil>
}
