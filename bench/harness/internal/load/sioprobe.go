package load

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/allspark/allspark/bench/harness/internal/proto"
	"github.com/allspark/allspark/bench/harness/internal/wsframe"
)

// ErrNoSocketIO reports a server that refuses the Socket.IO WebSocket
// handshake at /socket.io/ (404, 426, …): it does not serve Socket.IO.
var ErrNoSocketIO = errors.New("load: no Socket.IO at /socket.io/")

// ProbeSocketIO opens one Socket.IO connection the way the load generator
// does (WebSocket, "40" to the main namespace) and waits for the Engine.IO
// open packet and the CONNECT reply. A refused WebSocket handshake is
// ErrNoSocketIO; a connection that opens but never connects is an error.
func ProbeSocketIO(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}
	c, br, err := dial(ctx, addr, local, proto.SocketIO{}, nil, 0)
	if errors.Is(err, wsframe.ErrHandshake) {
		return fmt.Errorf("%w: %v", ErrNoSocketIO, err)
	}
	if err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.read(br, nil)
	}()
	defer func() { c.close(); <-done }()
	select {
	case <-c.readyChan():
		return nil
	case <-done:
		return errors.New("load: Socket.IO probe: connection closed before the CONNECT reply")
	case <-ctx.Done():
		return fmt.Errorf("load: Socket.IO probe: no open packet and CONNECT reply: %w", ctx.Err())
	}
}
