package nats

import (
	"github.com/allspark/allspark"
	"github.com/allspark/allspark/broker/internal/envelope"
)

// Every NATS message the Broker sends is an envelope of the format both
// brokers share (broker/internal/envelope); an unknown or malformed one is
// refused (ErrBadEnvelope), dropped and counted.
const (
	kindPublication = envelope.Publication
	kindMessage     = envelope.Message
	kindProbe       = envelope.Probe
)

// decodeEnvelope reads b; ErrBadEnvelope when it is no envelope.
func decodeEnvelope(b []byte) (envelope.Envelope, error) {
	e, err := envelope.Decode(b)
	if err != nil {
		return e, ErrBadEnvelope
	}
	return e, nil
}

func appendPublication(dst []byte, p *allspark.Publication) []byte {
	return envelope.AppendPublication(dst, p)
}

func appendMessage(dst []byte, from, to string, msg []byte) []byte {
	return envelope.AppendMessage(dst, from, to, msg)
}

func appendProbe(dst []byte, seq uint64) []byte { return envelope.AppendProbe(dst, seq) }
