//go:build !linux

package websocket

import "errors"

// poller is absent without epoll: every connection of the poller engine is
// read by a goroutine of its own (pollConn.readLoop).
type poller struct{ n int }

func newPoller() (*poller, error)       { return nil, errors.New("websocket: no epoll on this platform") }
func (p *poller) stop()                 {}
func (p *poller) add(int, *pollConn)    {}
func (p *poller) remove(int, *pollConn) {}
func (p *poller) arm(int, bool) error   { return errors.New("websocket: no epoll") }
