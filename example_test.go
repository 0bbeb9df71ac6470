package allspark_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/client"
)

// An echo server mounted on net/http, and a Go client talking to it.
func Example() {
	srv, _ := allspark.New(allspark.Options{})
	srv.OnConnection(func(ctx context.Context, s *allspark.Spark) error {
		s.OnData(func(data any) { _ = s.Write(data) })
		return nil
	})
	mux := http.NewServeMux()
	mux.Handle("/primus/", srv)
	mux.Handle("/primus", srv)
	hs := httptest.NewServer(mux)
	defer hs.Close()
	defer srv.Close()

	got := make(chan any, 1)
	c, err := client.Dial(context.Background(), hs.URL, client.Options{
		OnEvent: func(ev client.Event) {
			if ev.Kind == client.EventData {
				got <- ev.Data
			}
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Destroy()
	_ = c.Write(map[string]any{"hello": "world"})
	fmt.Println(<-got)
	// Output: map[hello:world]
}

// Authorization is answered before the upgrade, exactly as Primus answers it.
func ExampleServer_Authorize() {
	srv, _ := allspark.New(allspark.Options{})
	srv.Authorize(func(r *http.Request) error {
		if r.URL.Query().Get("token") != "s3cret" {
			return &allspark.AuthError{Message: "bad token", Authenticate: `Bearer realm="chat"`}
		}
		return nil
	})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Close()

	_, err := client.Dial(context.Background(), hs.URL+"?token=wrong", client.Options{})
	fmt.Println(err)
	// Output: client: authorization failed: 401 bad token
}

// Shutdown for a deploy: clients are told nothing, so they reconnect to the
// next process.
func ExampleServer_Shutdown() {
	srv, _ := allspark.New(allspark.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(ctx, allspark.ShutdownOptions{Reconnect: true, Timeout: 5 * time.Second})
	fmt.Println(err)
	// Output: <nil>
}
