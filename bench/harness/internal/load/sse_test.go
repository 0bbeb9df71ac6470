package load

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSSEClientReadsDataFields: the subscriber joins through the query,
// is ready once the head arrives, and hands every data field (a long one
// too) to the handler, whatever the chunking.
func TestSSEClientReadsDataFields(t *testing.T) {
	long := strings.Repeat("y", 10<<10)
	var query string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		for _, part := range []string{":" + strings.Repeat(" ", 2048) + "\nretry: 2000\n", "id: s:1\nda", "ta: \"#1:5:x\"\n\n", "id: s:2\ndata: " + long + "\n\n", ":\n"} {
			_, _ = w.Write([]byte(part))
			w.(http.Flusher).Flush()
		}
	}))
	defer hs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := openSSE(ctx, strings.TrimPrefix(hs.URL, "http://"), &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, []string{"bench"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	if query != "rooms=bench" {
		t.Errorf("query %q", query)
	}
	var mu sync.Mutex
	var got []string
	done := make(chan struct{})
	go func() {
		c.read(func(msg []byte) {
			mu.Lock()
			got = append(got, string(msg))
			mu.Unlock()
		})
		close(done)
	}()
	<-done // the handler returned: the stream ended
	if len(got) != 2 || got[0] != "\"#1:5:x\"\n" || got[1] != long+"\n" {
		t.Fatalf("data fields: %d, first %.20q", len(got), got)
	}
	if !c.isClosed() || c.send(nil) == nil {
		t.Error("closed stream / read-only send")
	}
}
