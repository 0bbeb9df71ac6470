package client_test

import (
	"context"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/client"
)

// Every test must leave no goroutine behind, servers and clients alike.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// After Destroy, whatever the client was doing, Done closes and no goroutine
// of the client (reader, dispatcher, dialer, timers, spec fetch) remains.
func TestNoGoroutineLeftAfterDestroy(t *testing.T) {
	for _, tc := range []struct {
		name string
		// setup starts what the client needs, calls ready, then creates
		// the client and brings it to the state under test.
		setup func(t *testing.T, ready func()) *client.Client
	}{
		{"open", func(t *testing.T, ready func()) *client.Client {
			srv := newServer(t, allspark.Options{PingInterval: 20 * time.Millisecond}, echo)
			url := serve(t, srv)
			rec := newRecorder(t)
			ready()
			c, err := client.Dial(ctxFor(t), url, client.Options{OnEvent: rec.on}) // spec fetched, watchdog armed
			if err != nil {
				t.Fatal(err)
			}
			_ = c.Write("x")
			rec.expect(client.EventOpen, client.EventData)
			if _, err := c.ID(ctxFor(t)); err != nil {
				t.Fatal(err)
			}
			return c
		}},
		{"waiting to reconnect", func(t *testing.T, ready func()) *client.Client {
			srv := newServer(t, allspark.Options{}, nil)
			ch := sparks(srv)
			url := serve(t, srv)
			rec := newRecorder(t)
			ready()
			c, err := client.Dial(ctxFor(t), url, client.Options{Reconnect: client.ReconnectOptions{Min: time.Hour}, OnEvent: rec.on})
			if err != nil {
				t.Fatal(err)
			}
			recv(t, ch).End(nil, true)
			rec.until(client.EventReconnectScheduled)
			return c
		}},
		{"dialling", func(t *testing.T, ready func()) *client.Client {
			bh := blackhole(t)
			dialled := make(chan struct{}, 1)
			ready()
			c, err := client.New("ws://"+bh, client.Options{
				NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
					var d net.Dialer
					conn, err := d.DialContext(ctx, network, addr)
					select {
					case dialled <- struct{}{}:
					default:
					}
					return conn, err
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			recv(t, dialled) // now stuck in the spec request or the handshake
			return c
		}},
		{"destroyed from its own callback", func(t *testing.T, ready func()) *client.Client {
			url := serve(t, newServer(t, allspark.Options{}, echo))
			self := make(chan *client.Client, 1)
			ended := make(chan struct{})
			ready()
			c, err := client.New(url, client.Options{OnEvent: func(ev client.Event) {
				switch ev.Kind {
				case client.EventOpen:
					(<-self).Destroy()
				case client.EventEnd:
					close(ended)
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			self <- c
			recv(t, ended)
			return c
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ignore goleak.Option
			c := tc.setup(t, func() { ignore = goleak.IgnoreCurrent() })
			c.Destroy()
			select {
			case <-c.Done():
			case <-time.After(waitTimeout):
				t.Fatal("Done not closed after Destroy")
			}
			// The servers are still up: only what the client started must
			// be gone (the server's spark goroutines end with the socket;
			// its heartbeat runs until Shutdown).
			goleak.VerifyNone(t, ignore, goleak.IgnoreTopFunction("github.com/allspark/allspark.(*heartbeat).run"))
		})
	}
}
