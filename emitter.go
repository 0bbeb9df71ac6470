package allspark

import (
	"github.com/allspark/allspark/internal/emitter"
	"github.com/allspark/allspark/internal/transport"
	"github.com/allspark/allspark/parser"
)

// The primus-emitter dialect (docs/events.md, "primus-emitter"): a Primus
// client with the npm primus-emitter plugin sends its named events and
// acks as {type, data, id} packets inside Primus data. The reader
// recognises them per message (handleEnvelope) and hands them to the event
// machinery as envelopes; a spark whose client spoke the dialect last gets
// its events, acks and error answers as packets, framed by its writer
// through emitterSession. Broadcasts are framed once for every such
// receiver (transport.Shared, slot emitter.Slot); plain data is sent as
// it is, whatever the dialect.

// newEmitterProtocol is the dialect's framing for the server's parser.
func newEmitterProtocol(p parser.Parser) *transport.Protocol {
	_, isJSON := p.(parser.JSON)
	return emitter.NewProtocol(emitter.Framing{JSON: isJSON, Decode: p.Decode, Encode: p.Encode})
}

// emitterSession is a spark's session seen through the dialect: each
// message of a batch is written as its emitter frame. It wraps only
// sessions that send the canonical encoding as is (Primus framing), so
// the frame replaces the payload.
type emitterSession struct {
	transport.Session
	proto *transport.Protocol
}

// WriteBatch implements transport.Session. msgs belongs to the spark's
// writer for the call (sendQueue.writeLoop), so the frames replace the
// payloads in place.
func (e *emitterSession) WriteBatch(msgs []transport.Message) (n, bytes int, err error) {
	for i := range msgs {
		msgs[i].Payload, msgs[i].Binary = msgs[i].FrameFor(e.proto)
	}
	return e.Session.WriteBatch(msgs)
}

// initEmitter decides at attach whether the dialect applies to the spark:
// a session that sends the canonical encoding as is (Primus framing, on
// WebSocket, Engine.IO or SockJS), the dialect enabled. With
// Options.Emitter.Default the spark speaks it from the start.
func (s *Spark) initEmitter() {
	srv := s.server
	s.emitterOK = srv.emitterProto != nil && !s.reframes && s.ns.isMain()
	if s.emitterOK && srv.opts.Emitter.Default {
		s.emitSess.Store(&emitterSession{Session: s.conn, proto: srv.emitterProto})
		srv.reframing.Add(1)
		s.emitter.Store(true)
	}
}

// speak records the dialect the client used last: emitter packets (true)
// or our envelopes (false). The first switch to the dialect attaches the
// emitter session and counts the spark in Server.reframing, so broadcasts
// carry a frame cache; it stays attached (and counted) until the spark
// ends, whatever the client speaks next.
func (s *Spark) speak(emitting bool) {
	if !s.emitterOK || s.emitter.Load() == emitting {
		return
	}
	if emitting && s.emitSess.Load() == nil {
		s.mu.Lock()
		if s.ReadyState() == Closed {
			s.mu.Unlock()
			return
		}
		if s.emitSess.Load() == nil {
			s.emitSess.Store(&emitterSession{Session: s.conn, proto: s.server.emitterProto})
			s.server.reframing.Add(1)
		}
		s.mu.Unlock()
	}
	s.emitter.Store(emitting)
}
