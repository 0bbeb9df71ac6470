package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/allspark/allspark/internal/events"
)

// Named events and acknowledgements (wire format: docs/events.md in the
// repository). They travel as ordinary data messages, so they are queued
// while offline like Write.

// Event error codes, as in docs/events.md.
const (
	CodeBadEnvelope     = events.CodeBadEnvelope
	CodeUnknownEvent    = events.CodeUnknownEvent
	CodeReservedEvent   = events.CodeReservedEvent
	CodeInvalidArgument = events.CodeInvalidArgument
	CodeHandlerError    = events.CodeHandlerError
	CodeTimeout         = events.CodeTimeout
	CodeDisconnected    = events.CodeDisconnected
)

// NamedEvent is a named event from the server.
type NamedEvent struct {
	Name string
	Args []any
	id   uint64
}

// WantsAck reports whether the server asked for an acknowledgement.
func (e *NamedEvent) WantsAck() bool { return e.id > 0 }

// Decode converts argument i into dst (a pointer), strictly: wrong types,
// unknown object fields or a missing argument give a *CallError with code
// invalid_argument, which a handler can return as is.
func (e *NamedEvent) Decode(i int, dst any) error { return decodeArg(e.Name, e.Args, i, dst) }

// NamedHandler handles a named event from the server. Its result is the
// acknowledgement when the server asked for one (nil: no arguments, Args:
// several, anything else: one); an error is sent as an ack error with code
// handler_error, or the code of a returned *CallError. Handlers run one at a
// time, in order, on a goroutine of the client's (not the socket reader), so
// they may call EmitWithAck. ctx is cancelled when the client is destroyed.
type NamedHandler func(ctx context.Context, ev *NamedEvent) (any, error)

// Args is a handler result of several arguments.
type Args = events.Several

// Reply is the server's acknowledgement.
type Reply struct {
	Event string
	Args  []any
}

// Decode converts reply argument i into dst, strictly (see NamedEvent.Decode).
func (r *Reply) Decode(i int, dst any) error { return decodeArg(r.Event, r.Args, i, dst) }

func decodeArg(event string, args []any, i int, dst any) error {
	if err := events.DecodeArg(args, i, dst); err != nil {
		return &CallError{Code: CodeInvalidArgument, Event: event, Message: err.Error()}
	}
	return nil
}

// CallError is a failed named event: the server's ack error or error report
// (delivered as an EventError event when no call waits for it), a local
// failure to get a reply (codes timeout and disconnected, wrapping ctx's
// error or ErrDisconnected), or what a handler returns to choose the code.
type CallError struct {
	Code    string
	Message string
	Event   string
	Err     error // local cause, never sent
}

func (e *CallError) Error() string {
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	if e.Event != "" {
		return fmt.Sprintf("client: event %q: %s: %s", e.Event, e.Code, msg)
	}
	return fmt.Sprintf("client: event: %s: %s", e.Code, msg)
}

// Unwrap returns the local cause.
func (e *CallError) Unwrap() error { return e.Err }

// ErrDisconnected: the connection a request went out on closed before the
// reply came. The server that would have answered it is gone with its spark;
// a reconnection is a new spark.
var ErrDisconnected = errors.New("client: disconnected before the reply")

type pendingAck struct {
	ch  chan ackResult
	gen uint64 // the connection the request went out on
}

type ackResult struct {
	args   []any
	failed *events.ErrorBody
	closed bool
}

type inboundCall struct {
	h    NamedHandler
	ev   NamedEvent
	size int // wire bytes, counted against Options.MaxQueuedEvents
}

// On registers the handler for a named event from the server; nil removes
// it. It returns ErrReserved for a reserved or invalid name.
func (c *Client) On(event string, h NamedHandler) error {
	if !events.ValidName(event) {
		return ErrReserved
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if h == nil {
		delete(c.handlers, event)
		return nil
	}
	if c.handlers == nil {
		c.handlers = make(map[string]NamedHandler)
	}
	c.handlers[event] = h
	return nil
}

// Emit sends a named event, queued while not open like Write. It returns
// ErrReserved for a reserved or invalid name, and Write's errors.
func (c *Client) Emit(event string, args ...any) error {
	if !events.ValidName(event) {
		return ErrReserved
	}
	return c.Write(events.NewEvent(event, args, 0))
}

// EmitWithAck sends a named event and waits for the server's
// acknowledgement. While the client is not open it first waits for a
// connection (a request is bound to the spark it reaches, so it is not
// queued blindly). It fails with a *CallError: the server's ack error, code
// timeout when ctx ends (wrapping ctx.Err()), or code disconnected when the
// connection closes before the reply (wrapping ErrDisconnected); or with
// ErrReserved, ErrClosed, ErrDestroyed, a *parser.Error, or
// ErrTooManyRequests when Options.MaxPendingAcks requests already wait.
//
// A handler may call it: while it waits, the client reads on past
// Options.MaxQueuedEvents to reach the reply (up to OverflowFactor times it).
func (c *Client) EmitWithAck(ctx context.Context, event string, args ...any) (*Reply, error) {
	if !events.ValidName(event) {
		return nil, ErrReserved
	}
	timeout := func() (*Reply, error) {
		return nil, &CallError{Code: CodeTimeout, Event: event, Message: "no reply: " + ctx.Err().Error(), Err: ctx.Err()}
	}
	ch := make(chan ackResult, 1)
	var id uint64
	c.mu.Lock()
	for c.state != Open {
		switch {
		case c.destroyed:
			c.mu.Unlock()
			return nil, ErrDestroyed
		case c.ended:
			c.mu.Unlock()
			return nil, ErrClosed
		}
		wait := c.changed
		c.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return timeout()
		}
		c.mu.Lock()
	}
	if len(c.acks) >= c.opts.MaxPendingAcks {
		c.mu.Unlock()
		return nil, ErrTooManyRequests
	}
	c.ackSeq++
	id = c.ackSeq
	if c.acks == nil {
		c.acks = make(map[uint64]pendingAck)
	}
	c.acks[id] = pendingAck{ch: ch, gen: c.gen}
	c.wakeReaderLocked() // the reply may be behind messages a paused reader has not read
	c.mu.Unlock()

	if err := c.Write(events.NewEvent(event, args, id)); err != nil {
		c.forgetAck(id)
		return nil, err
	}
	select {
	case r := <-ch:
		switch {
		case r.closed:
			return nil, &CallError{Code: CodeDisconnected, Event: event, Message: ErrDisconnected.Error(), Err: ErrDisconnected}
		case r.failed != nil:
			return nil, &CallError{Code: r.failed.Code, Message: r.failed.Message, Event: event}
		}
		return &Reply{Event: event, Args: r.args}, nil
	case <-ctx.Done():
		c.forgetAck(id)
		return timeout()
	}
}

func (c *Client) forgetAck(id uint64) {
	c.mu.Lock()
	delete(c.acks, id)
	c.mu.Unlock()
}

// failAcksLocked fails the requests that went out on connection gen, which
// is closing.
func (c *Client) failAcksLocked(gen uint64) {
	for id, p := range c.acks {
		if p.gen == gen {
			p.ch <- ackResult{closed: true}
			delete(c.acks, id)
		}
	}
}

// envelopeLocked handles a value received on connection gen (a message of
// size wire bytes) if it is an envelope, reporting false for plain data.
// Acks are handled at once; what goes to a handler waits for room first.
// c.mu is held.
func (c *Client) envelopeLocked(gen uint64, size int, v any) bool {
	env, ok, err := events.Parse(v)
	if !ok {
		return false
	}
	if err != nil {
		var m *events.Malformed
		errors.As(err, &m)
		ok, over := c.admitLocked(gen)
		if !ok {
			return true
		}
		if m.ID > 0 {
			c.replyLocked(events.NewFailure(m.ID, events.ErrorBody{Code: CodeBadEnvelope, Message: m.Reason, Event: m.Name}))
		}
		c.emitSized(Event{Kind: EventError, Err: &CallError{Code: CodeBadEnvelope, Message: m.Reason, Event: m.Name}}, size)
		if over {
			c.overflowLocked()
		}
		return true
	}
	switch env.Kind {
	case events.Ack, events.AckError:
		p, waiting := c.acks[env.ID]
		if !waiting {
			return true // late (timed out) or unknown: nobody to tell
		}
		delete(c.acks, env.ID)
		if env.Kind == events.Ack {
			p.ch <- ackResult{args: env.Args}
		} else {
			body := env.Error
			p.ch <- ackResult{failed: &body}
		}
	case events.Report:
		c.queueEventLocked(gen, size, Event{Kind: EventError, Err: &CallError{Code: env.Error.Code, Message: env.Error.Message, Event: env.Error.Event}})
	case events.Event:
		ok, over := c.admitLocked(gen)
		if !ok {
			return true
		}
		// Looked up after the wait: On may have changed the handlers.
		h := c.handlers[env.Name]
		switch {
		case events.IsReserved(env.Name):
			c.failLocked(env, size, CodeReservedEvent, "event name is reserved")
		case h == nil:
			c.failLocked(env, size, CodeUnknownEvent, "no handler for event")
		default:
			c.countLocked(size)
			c.calls = append(c.calls, inboundCall{h: h, ev: NamedEvent{Name: env.Name, Args: env.Args, id: env.ID}, size: size})
			if !c.calling {
				c.calling = true
				c.goroutines++
				go c.runCalls()
			}
		}
		if over {
			c.overflowLocked()
		}
	}
	return true
}

// failLocked answers an event the client cannot handle: an ack error when
// the server asked for an ack; otherwise an EventError event here, because a
// room broadcast must not make every member talk back.
func (c *Client) failLocked(env events.Envelope, size int, code, msg string) {
	if env.ID > 0 {
		c.replyLocked(events.NewFailure(env.ID, events.ErrorBody{Code: code, Message: msg, Event: env.Name}))
		return
	}
	c.emitSized(Event{Kind: EventError, Err: &CallError{Code: code, Message: msg, Event: env.Name}}, size)
}

// replyLocked sends v after mu is released (Write takes mu).
func (c *Client) replyLocked(v any) {
	c.post = append(c.post, func() { _ = c.Write(v) })
}

// runCalls runs queued handlers one at a time and exits when none are left.
// Each call counts against Options.MaxQueuedEvents until its handler has
// returned (and its reply is written).
func (c *Client) runCalls() {
	handled := 0 // size of the call just handled
	for {
		c.mu.Lock()
		if handled > 0 {
			c.releaseLocked(handled)
		}
		if len(c.calls) == 0 || c.destroyed {
			for _, in := range c.calls {
				c.releaseLocked(in.size)
			}
			c.calls, c.calling = nil, false
			c.goroutineDoneLocked()
			c.mu.Unlock()
			return
		}
		in := c.calls[0]
		c.calls[0] = inboundCall{}
		c.calls = c.calls[1:]
		c.mu.Unlock()
		c.call(&in)
		handled = in.size
	}
}

func (c *Client) call(in *inboundCall) {
	ev := &in.ev
	result, err := safeCall(c.ctx, in.h, ev)
	if !ev.WantsAck() {
		if err != nil {
			c.mu.Lock()
			c.emit(Event{Kind: EventError, Err: err})
			c.unlock()
		}
		return
	}
	if err != nil {
		body := events.ErrorBody{Code: CodeHandlerError, Message: err.Error(), Event: ev.Name}
		var ce *CallError
		if errors.As(err, &ce) {
			body.Code, body.Message = ce.Code, ce.Message
		}
		_ = c.Write(events.NewFailure(ev.id, body))
		return
	}
	if err := c.Write(events.NewAck(ev.id, events.ReplyArgs(result))); err != nil && !errors.Is(err, ErrClosed) && !errors.Is(err, ErrDestroyed) {
		_ = c.Write(events.NewFailure(ev.id, events.ErrorBody{Code: CodeHandlerError, Message: "reply not sent: " + err.Error(), Event: ev.Name}))
	}
}

func safeCall(ctx context.Context, h NamedHandler, ev *NamedEvent) (result any, err error) {
	defer func() {
		if p := recover(); p != nil {
			result, err = nil, &CallError{Code: CodeHandlerError, Message: "internal error", Event: ev.Name, Err: fmt.Errorf("panic: %v", p)}
		}
	}()
	return h(ctx, ev)
}
