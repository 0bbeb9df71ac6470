package allspark

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"testing"
	"time"
)

// Spark.Context: the request context's values, alive until the spark ends;
// contexts derived from it end with it without a goroutine each.
func TestSparkContext(t *testing.T) {
	srv, err := New(Options{PingInterval: NoPing})
	if err != nil {
		t.Fatal(err)
	}
	type key struct{}
	r, _ := http.NewRequest(http.MethodGet, "http://example.com/primus", nil)
	r.RemoteAddr = "127.0.0.1:1"
	reqCtx, cancelReq := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	r = r.WithContext(reqCtx)
	sp := srv.attach(&fakeConn{}, r)
	ctx := sp.Context()
	cancelReq() // net/http cancels the request's context once the upgrade handler returns
	if ctx.Value(key{}) != "v" || ctx.Err() != nil || context.Cause(ctx) != nil {
		t.Fatalf("live spark: value %v, err %v, cause %v", ctx.Value(key{}), ctx.Err(), context.Cause(ctx))
	}
	if _, ok := ctx.Deadline(); ok {
		t.Fatal("a spark's context has a deadline")
	}
	select {
	case <-ctx.Done():
		t.Fatal("done while the spark lives")
	default:
	}

	before := runtime.NumGoroutine()
	derived := make([]context.Context, 100)
	for i := range derived {
		d, cancel := context.WithTimeout(ctx, time.Hour)
		defer cancel()
		derived[i] = d
	}
	if grown := runtime.NumGoroutine() - before; grown > 5 {
		t.Fatalf("100 derived contexts started %d goroutines", grown)
	}
	_, stopped := context.WithCancel(ctx)
	stopped() // a cancelled child unregisters: it is not called at the end
	ran := make(chan struct{})
	context.AfterFunc(ctx, func() { close(ran) })
	stopMe := context.AfterFunc(ctx, func() { t.Error("a stopped AfterFunc ran") })
	if !stopMe() {
		t.Fatal("stop reported the function as already run")
	}

	endFake(t, srv, sp)
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("not done after the spark ended")
	}
	if !errors.Is(ctx.Err(), context.Canceled) || !errors.Is(context.Cause(ctx), context.Canceled) {
		t.Fatalf("ended: err %v cause %v", ctx.Err(), context.Cause(ctx))
	}
	for _, d := range derived {
		select {
		case <-d.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("a derived context outlived the spark")
		}
	}
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("AfterFunc did not run")
	}
	late := make(chan struct{})
	if context.AfterFunc(ctx, func() { close(late) })() {
		t.Fatal("stop after the end reported success")
	}
	<-late
	if ctx.Value(key{}) != "v" {
		t.Fatal("values lost at the end")
	}
}

// Done asked for the first time after the end is closed.
func TestSparkContextDoneAfterEnd(t *testing.T) {
	srv, err := New(Options{PingInterval: NoPing})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest(http.MethodGet, "http://example.com/primus", nil)
	sp := srv.attach(&fakeConn{}, r)
	endFake(t, srv, sp)
	select {
	case <-sp.Context().Done():
	default:
		t.Fatal("Done first asked after the end is open")
	}
	if sp.Context().Value("missing") != nil {
		t.Fatal("a missing key has a value")
	}
}
