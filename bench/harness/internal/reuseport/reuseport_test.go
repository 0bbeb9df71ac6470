package reuseport

import (
	"context"
	"testing"
)

func TestTwoListenersShareAPort(t *testing.T) {
	ctx := context.Background()
	a, err := Listen(ctx, "127.0.0.1:0", true)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Listen(ctx, a.Addr().String(), true)
	if err != nil {
		t.Fatalf("second listener with SO_REUSEPORT: %v", err)
	}
	b.Close()
	if c, err := Listen(ctx, a.Addr().String(), false); err == nil {
		c.Close()
		t.Fatal("a listener without SO_REUSEPORT should not share the port")
	}
}
