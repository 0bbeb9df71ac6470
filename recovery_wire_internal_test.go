package allspark

import (
	"strings"
	"testing"

	"github.com/allspark/allspark/internal/transport"
)

// capturedSession is a transport.Session that keeps what it is given.
type capturedSession struct {
	transport.Session
	frames []string
}

func (c *capturedSession) WriteBatch(msgs []transport.Message) (int, int, error) {
	for _, m := range msgs {
		c.frames = append(c.frames, string(m.Payload))
	}
	return len(msgs), 0, nil
}

// On our clients' wire a stamped message at or before what the connection
// was last sent in its room is not sent again: a restored spark's live
// copy that its node's broker subscription delivers after the replay
// already held it (seen in the reconnect benchmark on Redis). Gaps and
// epoch changes go through, for the client to resync.
func TestEnvelopeWireSendsNoPositionTwice(t *testing.T) {
	srv, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := &capturedSession{}
	sp := &Spark{sess: &sparkSession{wire: wireEnvelope}}
	w := &sessionWriter{Session: out, sp: sp, proto: srv.stampProtocol()}
	sp.sess.w = w
	msg := func(room string, off uint64, epoch string) transport.Message {
		return transport.Message{Payload: []byte(`"m"`), Stamp: &transport.Stamp{Room: room, Offset: off, Epoch: epoch}}
	}
	batches := [][]transport.Message{
		{msg("a", 1, "E"), msg("a", 2, "E"), msg("b", 7, "F")}, // a replay
		{msg("a", 2, "E"), msg("a", 3, "E"), msg("b", 6, "F")}, // late live copies, then the next
		{msg("a", 5, "E"), msg("a", 1, "G")},                   // a gap, an epoch change
	}
	for _, b := range batches {
		if _, _, err := w.WriteBatch(b); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, f := range out.frames {
		i := strings.Index(f, `"offset":`)
		j := strings.Index(f, `"room":`)
		if i < 0 || j < 0 {
			t.Fatalf("frame %s is not a stamped envelope", f)
		}
		got = append(got, f[j+8:j+9]+f[i+9:i+10])
	}
	want := "a1 a2 b7 a3 a5 a1"
	if strings.Join(got, " ") != want {
		t.Fatalf("sent %v (frames %q), want %s", got, out.frames, want)
	}
}
