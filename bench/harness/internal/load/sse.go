package load

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// sseMaxLine bounds one line of an event stream the client reads; a longer
// one ends the stream.
const sseMaxLine = 1 << 20

// sseClient is one EventSource-style subscriber: a GET of
// /primus/sse?rooms=…, read as an event stream for as long as it lasts. It
// cannot send; every "data:" line goes to the message handler (payload
// markers are found in it as in any other frame).
type sseClient struct {
	nc     net.Conn
	body   *bufio.Reader
	ready  chan struct{}
	closed atomic.Bool
}

// sseDataPrefix starts the data field of an event.
var sseDataPrefix = []byte("data: ")

// openSSE opens the stream from local (within ctx) and returns once the
// response head has arrived: the server has joined the rooms by then.
func openSSE(ctx context.Context, addr string, local *net.TCPAddr, rooms []string) (*sseClient, error) {
	d := net.Dialer{LocalAddr: local, Timeout: 10 * time.Second}
	nc, err := d.DialContext(ctx, "tcp4", addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	req := "GET /primus/sse?rooms=" + strings.Join(rooms, ",") + " HTTP/1.1\r\nHost: " + addr +
		"\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		nc.Close()
		return nil, err
	}
	res, err := http.ReadResponse(bufio.NewReaderSize(nc, 4<<10), nil)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		nc.Close()
		return nil, fmt.Errorf("load: stream answered %s (%s)", res.Status, res.Header.Get("Content-Type"))
	}
	_ = nc.SetDeadline(time.Time{})
	c := &sseClient{nc: nc, body: bufio.NewReaderSize(res.Body, 4<<10), ready: make(chan struct{})}
	close(c.ready)
	return c, nil
}

// read hands every data field to fn until the stream ends.
func (c *sseClient) read(fn onMessage) {
	defer c.closed.Store(true)
	var long []byte
	for {
		line, err := c.body.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			if len(long)+len(line) > sseMaxLine {
				return
			}
			long = append(long, line...)
			continue
		}
		if err != nil {
			return
		}
		if long != nil {
			line = append(long, line...)
			long = long[:0]
		}
		if fn != nil && bytes.HasPrefix(line, sseDataPrefix) {
			fn(line[len(sseDataPrefix):])
		}
	}
}

func (c *sseClient) send([]byte) error          { return errSSEReadOnly }
func (c *sseClient) close()                     { _ = c.nc.Close() }
func (c *sseClient) isClosed() bool             { return c.closed.Load() }
func (c *sseClient) readyChan() <-chan struct{} { return c.ready }

var errSSEReadOnly = fmt.Errorf("load: an event stream cannot send")
