package allspark

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/allspark/allspark/internal/emitter"
	"github.com/allspark/allspark/internal/events"
)

// Event error codes, sent on the wire in ack errors and error reports
// (docs/events.md) and found in EventError.Code.
const (
	CodeBadEnvelope     = events.CodeBadEnvelope     // malformed envelope
	CodeUnknownEvent    = events.CodeUnknownEvent    // no handler for the event
	CodeReservedEvent   = events.CodeReservedEvent   // the name is reserved
	CodeInvalidArgument = events.CodeInvalidArgument // arguments do not fit the handler's type
	CodeHandlerError    = events.CodeHandlerError    // the handler returned an error
	CodeTimeout         = events.CodeTimeout         // local: no reply before the context ended
	CodeDisconnected    = events.CodeDisconnected    // local: the connection ended before the reply
)

// EventHandler handles a named event. Its result is the acknowledgement sent
// back when the sender asked for one: nil sends no arguments, an Args value
// sends its elements, anything else is sent as the single argument. A non-nil
// error is sent as an ack error (or, when no ack was asked for, an error
// report) with code handler_error and the error's text; return an
// *EventError to choose the code and message.
//
// Handlers of one spark run one at a time, in arrival order, on a goroutine
// of their own (not the connection's reader), so a handler may wait on
// EmitWithAck to the same spark. Data that arrives while events are queued
// waits behind them, so data and events are handled in the order the client
// sent them. ctx is the spark's context: done when the spark ends.
type EventHandler func(ctx context.Context, ev *Event) (any, error)

// Args is a handler result of several arguments.
type Args = events.Several

// Event is a named event received from a client.
type Event struct {
	Name  string
	Args  []any // as the parser decoded them; see Decode
	Spark *Spark
	id    uint64
}

// WantsAck reports whether the sender asked for an acknowledgement.
func (e *Event) WantsAck() bool { return e.id > 0 }

// Decode converts argument i into dst (a pointer) strictly: wrong types,
// unknown object fields and a missing argument are errors. The error is an
// *EventError with code invalid_argument, so a handler can return it as is.
func (e *Event) Decode(i int, dst any) error {
	return decodeArg(e.Name, e.Args, i, dst)
}

func decodeArg(event string, args []any, i int, dst any) error {
	if err := events.DecodeArg(args, i, dst); err != nil {
		return &EventError{Code: CodeInvalidArgument, Event: event, Message: err.Error()}
	}
	return nil
}

// Reply is the acknowledgement a client sent for EmitWithAck.
type Reply struct {
	Event string
	Args  []any
	// From is the spark that replied (Target.EmitWithAck).
	From string
	// Err is a receiver's ack error (Target.EmitWithAck only; a single
	// Spark.EmitWithAck returns it as its error).
	Err error
}

// Decode converts reply argument i into dst, strictly (see Event.Decode).
func (r *Reply) Decode(i int, dst any) error { return decodeArg(r.Event, r.Args, i, dst) }

// EventError is a failed event: what a remote peer answered (ack error or
// error report), what a handler returns to pick the code sent back, or a
// local failure to get a reply (codes timeout and disconnected, which wrap
// the context's error or ErrClosed).
type EventError struct {
	Code    string // one of the Code* constants, or an application's own
	Message string
	Event   string // the event concerned, when known
	Err     error  // local cause, never sent
}

func (e *EventError) Error() string {
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	if e.Event != "" {
		return fmt.Sprintf("allspark: event %q: %s: %s", e.Event, e.Code, msg)
	}
	return fmt.Sprintf("allspark: event: %s: %s", e.Code, msg)
}

// Unwrap returns the local cause.
func (e *EventError) Unwrap() error { return e.Err }

// eventHandlers is a name → handler table.
type eventHandlers struct {
	mu sync.RWMutex
	m  map[string]EventHandler
}

func (t *eventHandlers) set(name string, h EventHandler) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h == nil {
		delete(t.m, name)
		return
	}
	if t.m == nil {
		t.m = make(map[string]EventHandler)
	}
	t.m[name] = h
}

func (t *eventHandlers) get(name string) EventHandler {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.m[name]
}

// On registers the handler for a named event from any spark that has no
// handler of its own for it; nil removes it. It returns ErrReserved for a
// reserved or invalid name.
func (s *Server) On(event string, h EventHandler) error {
	if !events.ValidName(event) {
		return ErrReserved
	}
	s.events.set(event, h)
	return nil
}

// On registers this spark's handler for a named event, taking precedence
// over the server's; nil removes it. It returns ErrReserved for a reserved
// or invalid name.
func (s *Spark) On(event string, h EventHandler) error {
	if !events.ValidName(event) {
		return ErrReserved
	}
	s.events.set(event, h)
	return nil
}

// Emit sends a named event to the client. Errors are those of Write, and
// ErrReserved for a reserved or invalid name.
func (s *Spark) Emit(event string, args ...any) error {
	if !events.ValidName(event) {
		return ErrReserved
	}
	return s.Write(events.NewEvent(event, args, 0))
}

// ackResult is what a pending EmitWithAck receives.
type ackResult struct {
	args   []any
	failed *events.ErrorBody
	closed bool
}

// EmitWithAck sends a named event and waits for the client's
// acknowledgement. It fails with an *EventError: the client's ack error,
// code timeout when ctx ends first (wrapping ctx.Err()), or code
// disconnected when the spark ends first (wrapping ErrClosed); with
// ErrTooManyAcks, at once, when Options.MaxPendingAcks requests of this
// spark already wait; or with the errors of Write.
//
// While a request waits, the spark's reader keeps reading past the soft
// inbound bound so the reply can arrive (docs/events.md, "Back-pressure").
func (s *Spark) EmitWithAck(ctx context.Context, event string, args ...any) (*Reply, error) {
	if !events.ValidName(event) {
		return nil, ErrReserved
	}
	id := s.nextAck.Add(1)
	ch := make(chan ackResult, 1)
	s.mu.Lock()
	if s.ReadyState() == Closed || s.ending.Load() {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	if limit := s.server.opts.MaxPendingAcks; limit > 0 && len(s.acks) >= limit {
		s.mu.Unlock()
		return nil, ErrTooManyAcks
	}
	if s.acks == nil {
		s.acks = make(map[uint64]chan ackResult)
	}
	s.acks[id] = ch
	s.ackCount.Store(int32(len(s.acks)))
	// A reader waiting at a full inbound queue may now read on (the reply
	// is behind what it waits to queue).
	s.wakePendingLocked()
	s.mu.Unlock()
	s.evq.wake()
	if err := s.Write(events.NewEvent(event, args, id)); err != nil {
		s.forgetAck(id)
		if errors.Is(err, ErrClosed) {
			// The spark ended after the request was registered: the same
			// answer a request waiting for its reply gets.
			return nil, &EventError{Code: CodeDisconnected, Event: event, Message: "connection ended before the reply", Err: ErrClosed}
		}
		return nil, err
	}
	select {
	case r := <-ch:
		switch {
		case r.closed:
			return nil, &EventError{Code: CodeDisconnected, Event: event, Message: "connection ended before the reply", Err: ErrClosed}
		case r.failed != nil:
			return nil, &EventError{Code: r.failed.Code, Message: r.failed.Message, Event: event}
		}
		return &Reply{Event: event, Args: r.args}, nil
	case <-ctx.Done():
		s.forgetAck(id)
		return nil, &EventError{Code: CodeTimeout, Event: event, Message: "no reply: " + ctx.Err().Error(), Err: ctx.Err()}
	}
}

func (s *Spark) forgetAck(id uint64) {
	s.mu.Lock()
	delete(s.acks, id)
	s.ackCount.Store(int32(len(s.acks)))
	s.mu.Unlock()
}

// resolveAck hands a reply to its waiting EmitWithAck; replies nobody waits
// for (timed out, duplicate) are dropped.
func (s *Spark) resolveAck(id uint64, r ackResult) {
	s.mu.Lock()
	ch, ok := s.acks[id]
	delete(s.acks, id)
	s.ackCount.Store(int32(len(s.acks)))
	s.mu.Unlock()
	if !ok {
		s.server.opts.Logger.Debug("late or unknown ack", "spark", s.id, "ack", id)
		return
	}
	ch <- r
}

// failAcksLocked tells every pending EmitWithAck that the spark ended.
// Called with s.mu held.
func (s *Spark) failAcksLocked() {
	for id, ch := range s.acks {
		ch <- ackResult{closed: true}
		delete(s.acks, id)
	}
	s.acks = nil
	s.ackCount.Store(0)
}

// handleEnvelope processes a received envelope, or a primus-emitter packet
// (emitter.go), on the read path. It reports false when data is plain data
// for the OnData handlers. size is the frame's payload length, for the
// event queue's byte bound.
func (s *Spark) handleEnvelope(data any, size int) bool {
	if s.sess != nil && isEndEnvelope(data) {
		s.markSessionEnded()
		return true
	}
	env, ok, err := events.Parse(data)
	if !ok {
		if !s.emitterOK {
			return false
		}
		if env, ok = emitter.Parse(data); !ok {
			return false
		}
		// Before the event runs, so its answer goes out as a packet.
		s.speak(true)
		s.handleParsed(env, size)
		return true
	}
	if s.emitterOK {
		s.speak(false)
	}
	if err != nil {
		var m *events.Malformed
		errors.As(err, &m)
		s.fail(m.ID, events.ErrorBody{Code: CodeBadEnvelope, Message: m.Reason, Event: m.Name})
		s.emitError(&EventError{Code: CodeBadEnvelope, Message: m.Reason, Event: m.Name})
		return true
	}
	s.handleParsed(env, size)
	return true
}

// handleParsed acts on an envelope that was read without error.
func (s *Spark) handleParsed(env events.Envelope, size int) {
	switch env.Kind {
	case events.Ack:
		s.resolveAck(env.ID, ackResult{args: env.Args})
	case events.AckError:
		body := env.Error
		s.resolveAck(env.ID, ackResult{failed: &body})
	case events.Report:
		s.emitError(&EventError{Code: env.Error.Code, Message: env.Error.Message, Event: env.Error.Event})
	case events.Event:
		s.receiveEvent(env, size)
	}
}

// receiveEvent finds the handler and queues the call, or answers the failure.
func (s *Spark) receiveEvent(env events.Envelope, size int) {
	if events.IsReserved(env.Name) {
		s.fail(env.ID, events.ErrorBody{Code: CodeReservedEvent, Message: "event name is reserved", Event: env.Name})
		return
	}
	if anys := s.server.anyHandlers.load(); len(anys) > 0 {
		ev := &Event{Name: env.Name, Args: env.Args, Spark: s, id: env.ID}
		for _, fn := range anys {
			fn(ev)
		}
	}
	h := s.events.get(env.Name)
	if h == nil {
		if s.ns.isMain() {
			h = s.server.events.get(env.Name)
		} else {
			h = s.ns.events.get(env.Name)
		}
	}
	if h == nil {
		s.fail(env.ID, events.ErrorBody{Code: CodeUnknownEvent, Message: "no handler for event", Event: env.Name})
		return
	}
	s.evq.put(s, inboundEvent{h: h, ev: Event{Name: env.Name, Args: env.Args, Spark: s, id: env.ID}, size: size}, false)
}

// fail answers a failed event: ack error when it asked for an ack, error
// report otherwise.
func (s *Spark) fail(id uint64, body events.ErrorBody) {
	if err := s.Write(events.NewFailure(id, body)); err != nil && !errors.Is(err, ErrClosed) {
		s.emitError(err)
	}
}

// runHandler calls a handler and sends its answer.
func (s *Spark) runHandler(in *inboundEvent) {
	ev := &in.ev
	result, err := callHandler(s.Context(), in.h, ev)
	if err != nil {
		var ee *EventError
		body := events.ErrorBody{Code: CodeHandlerError, Message: err.Error(), Event: ev.Name}
		if errors.As(err, &ee) {
			body.Code, body.Message = ee.Code, ee.Message
			if body.Message == "" && ee.Err != nil {
				body.Message = ee.Err.Error()
			}
		}
		s.fail(ev.id, body)
		return
	}
	if !ev.WantsAck() {
		return
	}
	if err := s.Write(events.NewAck(ev.id, events.ReplyArgs(result))); err != nil && !errors.Is(err, ErrClosed) {
		// The reply cannot be encoded or is too large: tell the caller.
		s.fail(ev.id, events.ErrorBody{Code: CodeHandlerError, Message: "reply not sent: " + err.Error(), Event: ev.Name})
		s.emitError(err)
	}
}

// callHandler runs h, turning a panic into an error so one bad handler does
// not take the server down.
func callHandler(ctx context.Context, h EventHandler, ev *Event) (result any, err error) {
	defer func() {
		if p := recover(); p != nil {
			result, err = nil, &EventError{Code: CodeHandlerError, Message: "internal error", Event: ev.Name, Err: fmt.Errorf("panic: %v", p)}
			ev.Spark.server.opts.Logger.Error("event handler panicked", "event", ev.Name, "spark", ev.Spark.id, "panic", p)
		}
	}()
	return h(ctx, ev)
}
