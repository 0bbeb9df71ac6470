package allspark

import (
	"context"
	"fmt"
)

// Validator is implemented by event argument types that check their own
// values after decoding; a non-nil error is sent back to the caller with code
// invalid_argument.
type Validator interface {
	Validate() error
}

// Handle adapts a typed function into an EventHandler that validates its
// input before fn runs, as the Primus plugin fortress-maximus does for
// Primus events (every message from a client is untrusted input): the
// event must carry exactly one argument, decoded strictly into T (wrong types, unknown fields → invalid_argument, with the
// field named), then checked by T's Validate method if it has one. Use
// struct{} as T for an event without arguments (then none are allowed). The
// result R is the acknowledgement (struct{} sends no arguments; Args sends
// several); errors are answered as EventHandler describes.
//
//	srv.On("add", allspark.Handle(func(ctx context.Context, sp *allspark.Spark, in Sum) (int, error) {
//		return in.A + in.B, nil
//	}))
func Handle[T, R any](fn func(ctx context.Context, sp *Spark, in T) (R, error)) EventHandler {
	return func(ctx context.Context, ev *Event) (any, error) {
		var in T
		if err := decodeInput(ev, &in); err != nil {
			return nil, err
		}
		out, err := fn(ctx, ev.Spark, in)
		if err != nil {
			return nil, err
		}
		if _, none := any(out).(struct{}); none {
			return nil, nil
		}
		return out, nil
	}
}

func decodeInput[T any](ev *Event, in *T) error {
	if _, none := any(*in).(struct{}); none {
		if len(ev.Args) != 0 {
			return &EventError{Code: CodeInvalidArgument, Event: ev.Name,
				Message: fmt.Sprintf("takes no arguments, got %d", len(ev.Args))}
		}
		return nil
	}
	if len(ev.Args) != 1 {
		return &EventError{Code: CodeInvalidArgument, Event: ev.Name,
			Message: fmt.Sprintf("takes 1 argument, got %d", len(ev.Args))}
	}
	if err := ev.Decode(0, in); err != nil {
		return err
	}
	// *T's method set includes T's, so this finds Validate on either.
	if val, ok := any(in).(Validator); ok {
		if err := val.Validate(); err != nil {
			return &EventError{Code: CodeInvalidArgument, Event: ev.Name, Message: err.Error()}
		}
	}
	return nil
}
