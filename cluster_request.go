package allspark

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// PartialError is the error of a cluster-wide operation some live nodes did
// not answer in time (killed and not yet past NodeTTL, overloaded, cut off
// from the broker) or answered with an error. The operation's result holds
// what the other nodes answered; Missing says whose part is absent, so a
// caller can tell "3 members" from "at least 3 members".
type PartialError struct {
	Op      string   // "locate", "count", "fetch", "join", "leave", "disconnect", "rooms", "presence", …
	Missing []string // the nodes whose answers are absent, sorted
	Err     error    // why: context.DeadlineExceeded, or a node's error
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("allspark: cluster %s: no answer from %s: %v", e.Op, strings.Join(e.Missing, ", "), e.Err)
}

// Unwrap returns the reason.
func (e *PartialError) Unwrap() error { return e.Err }

// ErrNodeBusy: the node serves MaxConcurrentRequests requests already.
var ErrNodeBusy = errors.New("allspark: node busy")

// ErrUnknownOp: the node does not serve this request (an older version).
var ErrUnknownOp = errors.New("allspark: unknown cluster request")

// remoteError is an error a node answered with, by text.
type remoteError struct{ node, text string }

func (e *remoteError) Error() string { return "node " + e.node + ": " + e.text }

// Unwrap gives back the sentinel a node answered with, so errors.Is sees
// ErrNodeBusy and ErrUnknownOp across the broker.
func (e *remoteError) Unwrap() error {
	for _, s := range [...]error{ErrNodeBusy, ErrUnknownOp} {
		if e.text == s.Error() {
			return s
		}
	}
	return nil
}

type nodeAnswer struct {
	node string
	body []byte
	err  error
}

type pendingRequest struct {
	ch chan nodeAnswer
}

// survey sends op with body to nodes (all live peers when nodes is nil) and
// collects their answers until every one answered, done returns true for an
// answer (an early result, as for Locate), or ctx or RequestTimeout ends.
// Answers with errors count as missing. It returns the answers by node, and
// a *PartialError naming the nodes that did not answer usefully.
func (c *cluster) survey(ctx context.Context, op string, body []byte, nodes []string, done func(node string, body []byte) bool) (map[string][]byte, error) {
	return c.surveyFor(ctx, c.opts.RequestTimeout, op, body, nodes, done)
}

// surveyFor is survey bounded by timeout instead of RequestTimeout (a
// forwarded long-poll is held longer than any request).
func (c *cluster) surveyFor(ctx context.Context, timeout time.Duration, op string, body []byte, nodes []string, done func(node string, body []byte) bool) (map[string][]byte, error) {
	all := nodes == nil
	if all {
		nodes = c.livePeers()
	}
	if len(nodes) == 0 {
		return nil, nil
	}
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > timeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	p := &pendingRequest{ch: make(chan nodeAnswer, len(nodes))}
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	c.pending[id] = p
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()

	m := &nodeMessage{kind: msgRequest, id: id, op: op, body: body}
	if all && len(nodes) > 1 {
		c.send("", m)
	} else {
		for _, n := range nodes {
			c.send(n, m)
		}
	}

	waiting := make(map[string]struct{}, len(nodes))
	for _, n := range nodes {
		waiting[n] = struct{}{}
	}
	answers := make(map[string][]byte, len(nodes))
	erred := make(map[string]struct{})
	var firstErr error
	for len(waiting) > 0 {
		select {
		case a := <-p.ch:
			if _, ok := waiting[a.node]; !ok {
				continue // a node that joined after the request went out
			}
			delete(waiting, a.node)
			if a.err != nil {
				// A definite answer: no use waiting for it, but its part
				// is missing from the result.
				erred[a.node] = struct{}{}
				if firstErr == nil {
					firstErr = a.err
				}
				continue
			}
			answers[a.node] = a.body
			if done != nil && done(a.node, a.body) {
				return answers, nil
			}
		case <-ctx.Done():
			for n := range erred {
				waiting[n] = struct{}{}
			}
			return answers, c.partial(op, waiting, ctx.Err())
		}
	}
	if len(erred) > 0 {
		return answers, c.partial(op, erred, firstErr)
	}
	return answers, nil
}

func (c *cluster) partial(op string, waiting map[string]struct{}, err error) error {
	missing := make([]string, 0, len(waiting))
	for n := range waiting {
		missing = append(missing, n)
	}
	slices.Sort(missing)
	return &PartialError{Op: op, Missing: missing, Err: err}
}

// request sends op to one node and waits for its answer.
func (c *cluster) request(ctx context.Context, node, op string, body []byte) ([]byte, error) {
	return c.requestFor(ctx, c.opts.RequestTimeout, node, op, body)
}

// requestFor is request bounded by timeout instead of RequestTimeout.
func (c *cluster) requestFor(ctx context.Context, timeout time.Duration, node, op string, body []byte) ([]byte, error) {
	answers, err := c.surveyFor(ctx, timeout, op, body, []string{node}, nil)
	if err != nil {
		return nil, err
	}
	return answers[node], nil
}

// answer hands a node's answer to the request waiting for it (dropped when
// the request has ended).
func (c *cluster) answer(from string, m nodeMessage) {
	c.mu.Lock()
	p := c.pending[m.id]
	c.mu.Unlock()
	if p == nil {
		return
	}
	a := nodeAnswer{node: from, body: m.body}
	if m.err != "" {
		a.err = &remoteError{node: from, text: m.err}
	}
	select {
	case p.ch <- a:
	default: // more answers than asked nodes: a duplicate
	}
}

// serve runs a request from another node on its own goroutine and answers
// it; past MaxConcurrentRequests it answers ErrNodeBusy at once.
func (c *cluster) serve(from string, m nodeMessage) {
	fn := c.ops[m.op]
	if fn == nil {
		c.send(from, &nodeMessage{kind: msgAnswer, id: m.id, err: ErrUnknownOp.Error()})
		return
	}
	c.mu.Lock()
	closed := c.closed
	if !closed {
		c.wg.Add(1)
	}
	c.mu.Unlock()
	if closed {
		return
	}
	sem, timeout := c.sem, c.opts.RequestTimeout
	if l, ok := c.limits[m.op]; ok {
		sem, timeout = l.sem, l.timeout
	}
	select {
	case sem <- struct{}{}:
	default:
		c.wg.Done()
		c.send(from, &nodeMessage{kind: msgAnswer, id: m.id, err: ErrNodeBusy.Error()})
		return
	}
	body := append([]byte(nil), m.body...)
	go func() {
		defer c.wg.Done()
		defer func() { <-sem }()
		ctx, cancel := context.WithTimeout(c.ctx, timeout)
		defer cancel()
		out, err := fn(ctx, from, body)
		a := &nodeMessage{kind: msgAnswer, id: m.id, body: out}
		if err != nil {
			a.body, a.err = nil, err.Error()
			if a.err == "" {
				a.err = "error"
			}
		}
		c.send(from, a)
	}()
}
