package allspark_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/client"
)

// An echo server mounted on net/http as the package documentation shows, and
// a Go client talking to it.
func Example() {
	srv, _ := allspark.New(allspark.Options{})
	srv.OnConnection(func(ctx context.Context, s *allspark.Spark) error {
		s.OnData(func(data any) { _ = s.Write(data) })
		return nil
	})
	mux := http.NewServeMux()
	mux.Handle("/primus", srv)  // the endpoint clients dial
	mux.Handle("/primus/", srv) // and below it: /primus/spec, /primus/primus.js
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

// The mounting in the package documentation serves the endpoint and what is
// below it; "/primus/" alone would redirect the endpoint, which the stock
// client (and ours) would then retry forever.
func TestMountAsDocumented(t *testing.T) {
	srv, _ := allspark.New(allspark.Options{})
	defer srv.Close()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	status := func(hs *httptest.Server, path string) int {
		resp, err := noRedirect.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	mux := http.NewServeMux()
	mux.Handle("/primus", srv)  // as in doc.go
	mux.Handle("/primus/", srv) // as in doc.go
	hs := httptest.NewServer(mux)
	defer hs.Close()
	for path, want := range map[string]int{"/primus": 426, "/primus/spec": 200, "/primus/primus.js": 200} {
		if got := status(hs, path); got != want {
			t.Errorf("GET %s: %d, want %d", path, got, want)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, hs.URL, client.Options{})
	if err != nil {
		t.Fatalf("dial /primus: %v", err)
	}
	c.Destroy()

	slashOnly := http.NewServeMux()
	slashOnly.Handle("/primus/", srv)
	hs2 := httptest.NewServer(slashOnly)
	defer hs2.Close()
	if got := status(hs2, "/primus"); got != http.StatusTemporaryRedirect && got != http.StatusMovedPermanently {
		t.Errorf(`"/primus/" alone: GET /primus = %d, expected the redirect that makes mounting both necessary`, got)
	}
}
