package client_test

import (
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/client"
)

func TestAuthorizationFailure(t *testing.T) {
	for _, tc := range []struct {
		name      string
		refusal   *allspark.AuthError
		challenge string
	}{
		{"401", &allspark.AuthError{Message: "bad token", Authenticate: `Bearer realm="allspark"`}, `Bearer realm="allspark"`},
		{"403", &allspark.AuthError{Status: http.StatusForbidden, Message: "not yours"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := newServer(t, allspark.Options{
				Authorization: func(*http.Request) error {
					calls.Add(1)
					return tc.refusal
				},
			}, nil)
			url := serve(t, srv)
			rec := newRecorder(t)
			// Reconnection as eager as it gets: a loop would show at once.
			_, err := client.Dial(ctxFor(t), url, client.Options{
				Reconnect: client.ReconnectOptions{Min: time.Millisecond, Retries: client.Unlimited},
				OnEvent:   rec.on,
			})
			var ae *client.AuthError
			if !errors.As(err, &ae) {
				t.Fatalf("Dial = %v, want *AuthError", err)
			}
			if ae.Status != tc.refusal.StatusCode() || ae.Message != tc.refusal.Message || ae.Authenticate != tc.challenge {
				t.Fatalf("AuthError = %+v", ae)
			}
			evs := rec.expect(client.EventError, client.EventClose, client.EventEnd)
			if !errors.As(evs[0].Err, &ae) || !errors.As(evs[2].Err, &ae) {
				t.Fatalf("events carry %v / %v, want *AuthError", evs[0].Err, evs[2].Err)
			}
			if n := calls.Load(); n != 1 {
				t.Fatalf("server was asked %d times, want 1 (no reconnect loop)", n)
			}
		})
	}
}

// Credentials revoked while connected: the reconnection attempt is refused
// and the client ends instead of retrying.
func TestAuthorizationFailureDuringReconnect(t *testing.T) {
	var refuse atomic.Bool
	var calls atomic.Int32
	srv := newServer(t, allspark.Options{
		Authorization: func(*http.Request) error {
			calls.Add(1)
			if refuse.Load() {
				return &allspark.AuthError{Message: "revoked"}
			}
			return nil
		},
	}, nil)
	ch := sparks(srv)
	url := serve(t, srv)
	rec := newRecorder(t)
	c, err := client.Dial(ctxFor(t), url, client.Options{
		Reconnect: client.ReconnectOptions{Min: time.Millisecond, Retries: client.Unlimited},
		OnEvent:   rec.on,
	})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	rec.expect(client.EventOpen)
	refuse.Store(true)
	recv(t, ch).End(nil, true)
	evs := rec.expect(client.EventClose, client.EventReconnectScheduled, client.EventReconnect,
		client.EventError, client.EventClose, client.EventEnd)
	var ae *client.AuthError
	if !errors.As(evs[3].Err, &ae) || ae.Message != "revoked" || ae.Status != http.StatusUnauthorized {
		t.Fatalf("error event = %v", evs[3].Err)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("server was asked %d times, want 2", n)
	}
}

// Statuses other than 401/403 (here 503 during shutdown, via a middleware)
// are retried, with the status in the cause.
func TestOtherRefusalsAreRetried(t *testing.T) {
	srv := newServer(t, allspark.Options{}, func(srv *allspark.Server) {
		_ = srv.UseAt(0, "down", func(w http.ResponseWriter, _ *http.Request, _ func(*http.Request)) {
			allspark.WriteError(w, &allspark.AuthError{Status: http.StatusServiceUnavailable, Message: "maintenance"})
		}, nil)
	})
	url := serve(t, srv)
	rec := newRecorder(t)
	c, err := client.New(url, client.Options{PingTimeout: client.Off, Reconnect: client.ReconnectOptions{Min: time.Hour}, OnEvent: rec.on})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	evs := rec.expect(client.EventError, client.EventReconnectScheduled)
	var se *client.StatusError
	if !errors.As(evs[0].Err, &se) || se.Status != http.StatusServiceUnavailable || se.Message != "maintenance" {
		t.Fatalf("error = %v, want *StatusError 503 maintenance", evs[0].Err)
	}
}
