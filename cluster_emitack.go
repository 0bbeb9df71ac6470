package allspark

import (
	"context"
	"encoding/json"
	"time"
)

// Target.EmitWithAck across nodes: the asking node sends the event, its
// arguments in the cluster's parser and the time left; each other node
// runs the same local wait for its sparks, ending a margin before the
// asker's deadline, and answers with what its sparks replied.

type ackRequest struct {
	Target targetSpec `json:"t"`
	Event  string     `json:"ev"`
	Args   []byte     `json:"args"` // the arguments, encoded by the parser
	Binary bool       `json:"bin,omitempty"`
	WaitMS int64      `json:"ms"` // how long the node waits for its sparks
}

type ackReplyWire struct {
	From    string `json:"from"`
	Args    []byte `json:"args,omitempty"`
	Binary  bool   `json:"bin,omitempty"`
	Code    string `json:"code,omitempty"` // an ack error's
	Message string `json:"msg,omitempty"`
}

type ackAnswerWire struct {
	Replies []ackReplyWire `json:"replies"`
	Missing int            `json:"missing"`
	Total   int            `json:"total"`
}

// ackAnswer is what the other nodes collected, and the survey's error.
type ackAnswer struct {
	ackCollected
	err error
}

// ackMargin is how long before the asker's deadline another node stops
// waiting for its sparks, to leave its answer time to cross the broker.
func ackMargin(left time.Duration) time.Duration {
	return min(left/10, 250*time.Millisecond)
}

func (t Target) emitAckRemote(ctx context.Context, event string, args []any) ackAnswer {
	s := t.srv
	payload, binary, err := s.opts.Parser.Encode(args)
	if err != nil {
		return ackAnswer{err: err}
	}
	left := s.cluster.opts.RequestTimeout
	if dl, ok := ctx.Deadline(); ok {
		left = time.Until(dl)
	}
	if left <= 0 {
		return ackAnswer{}
	}
	body, err := json.Marshal(ackRequest{
		Target: t.spec(), Event: event, Args: payload, Binary: binary,
		WaitMS: (left - ackMargin(left)).Milliseconds(),
	})
	if err != nil {
		return ackAnswer{err: err}
	}
	answers, err := s.cluster.surveyFor(ctx, left, "emitack", body, nil, nil)
	out := ackAnswer{err: err}
	for _, b := range answers {
		var a ackAnswerWire
		if json.Unmarshal(b, &a) != nil {
			continue
		}
		out.missing += a.Missing
		out.total += a.Total
		for _, r := range a.Replies {
			reply := &Reply{Event: event, From: r.From}
			if r.Code != "" {
				reply.Err = &EventError{Code: r.Code, Message: r.Message, Event: event}
			} else if v, err := s.opts.Parser.Decode(r.Args, r.Binary); err == nil {
				reply.Args, _ = v.([]any)
			}
			out.replies = append(out.replies, reply)
		}
	}
	return out
}

// serveEmitAck is the "emitack" op: the local part of another node's
// EmitWithAck.
func (s *Server) serveEmitAck(ctx context.Context, _ string, body []byte) ([]byte, error) {
	var req ackRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, err
	}
	v, err := s.opts.Parser.Decode(req.Args, req.Binary)
	if err != nil {
		return nil, err
	}
	args, _ := v.([]any)
	wait := time.Duration(req.WaitMS) * time.Millisecond
	ctx, cancel := context.WithTimeout(ctx, max(wait, 0))
	defer cancel()
	res := s.target(req.Target).emitAckLocal(ctx, req.Event, args)
	if res.reserved {
		return nil, ErrReserved
	}
	out := ackAnswerWire{Replies: make([]ackReplyWire, 0, len(res.replies)), Missing: res.missing, Total: res.total}
	for _, r := range res.replies {
		w := ackReplyWire{From: r.From}
		if r.Err != nil {
			w.Code, w.Message = CodeHandlerError, r.Err.Error()
			if ee, ok := r.Err.(*EventError); ok {
				w.Code, w.Message = ee.Code, ee.Message
			}
		} else if w.Args, w.Binary, err = s.opts.Parser.Encode(orEmptyArgs(r.Args)); err != nil {
			return nil, err
		}
		out.Replies = append(out.Replies, w)
	}
	return json.Marshal(out)
}

func orEmptyArgs(a []any) []any {
	if a == nil {
		return []any{}
	}
	return a
}
