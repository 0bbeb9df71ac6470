package client

import (
	"context"
	"slices"

	"github.com/allspark/allspark/internal/primus"
)

type idResult struct {
	id  string
	err error
}

// ID returns the id the server gave this connection (the spark id), asking
// with "primus::id::" and waiting for the answer. The answer is remembered
// until the connection closes; every reconnection is a new spark with a new
// id. Called while not open, ID waits for the next connection. It returns
// ctx's error, ErrClosed if the client ends first, or ErrDestroyed.
func (c *Client) ID(ctx context.Context) (string, error) {
	c.mu.Lock()
	switch {
	case c.destroyed:
		c.mu.Unlock()
		return "", ErrDestroyed
	case c.ended:
		c.mu.Unlock()
		return "", ErrClosed
	case c.state == Open && c.id != "":
		id := c.id
		c.mu.Unlock()
		return id, nil
	}
	ch := make(chan idResult, 1)
	c.idWaiters = append(c.idWaiters, ch)
	c.wakeReaderLocked() // the answer may be behind messages a paused reader has not read
	ws := c.ws
	ask := c.state == Open && !c.idAsked
	if ask {
		c.idAsked = true
	}
	c.mu.Unlock()
	if ask {
		// A failed write means the connection is going away; the request is
		// asked again when the next one opens.
		_ = c.writeControl(ws, primus.IDRequest)
	}
	select {
	case r := <-ch:
		return r.id, r.err
	case <-ctx.Done():
		c.mu.Lock()
		if i := slices.Index(c.idWaiters, ch); i >= 0 {
			c.idWaiters = slices.Delete(c.idWaiters, i, i+1)
		}
		c.mu.Unlock()
		return "", ctx.Err()
	}
}
