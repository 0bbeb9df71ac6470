package reuseport

import (
	"context"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// Listen listens on addr ("127.0.0.1:port"), with SO_REUSEPORT when share is
// true.
func Listen(ctx context.Context, addr string, share bool) (net.Listener, error) {
	lc := net.ListenConfig{}
	if share {
		lc.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	return lc.Listen(ctx, "tcp4", addr)
}
