package redis

import (
	"sync"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/broker/internal/envelope"
)

// What travels on the broker's channels is the envelope format both
// brokers share (broker/internal/envelope).
const (
	kindPublication = envelope.Publication
	kindMessage     = envelope.Message
	kindProbe       = envelope.Probe
	maxNodeName     = envelope.MaxNodeName
)

// decodeEnvelope reads b; errBadEnvelope when it is no envelope.
func decodeEnvelope(b []byte) (envelope.Envelope, error) {
	e, err := envelope.Decode(b)
	if err != nil {
		return e, errBadEnvelope
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

// bufPool holds the buffers Publish and Send build a channel name and an
// envelope in. Buffers that grew past maxPooledBuf are left to the GC, so
// one large publication does not pin its size in the pool.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

const maxPooledBuf = 64 << 10

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > maxPooledBuf {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}
