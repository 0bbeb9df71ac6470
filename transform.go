package allspark

// Direction says which way a message travels through a transform.
type Direction uint8

const (
	Incoming Direction = iota // client → server, after decoding
	Outgoing                  // server → client, before encoding
)

func (d Direction) String() string {
	if d == Incoming {
		return "incoming"
	}
	return "outgoing"
}

// Packet is a message passing through transforms. A transform may replace
// Data. Raw and Binary describe the received frame (incoming only); Raw is
// valid only during the call.
type Packet struct {
	Data   any
	Raw    []byte
	Binary bool
}

// TransformFunc rewrites or inspects a message. Return keep=false to swallow
// it silently; return an error to drop it and report a *TransformError to the
// spark's error handlers (the connection stays open). Transforms run in the
// order they were added, on the goroutine that reads (incoming) or writes
// (outgoing) the message, and may block.
type TransformFunc func(s *Spark, p *Packet) (keep bool, err error)

// Transform adds fn to the incoming or outgoing chain.
//
// With no outgoing transform a broadcast is encoded once for all receivers;
// with one, each receiver's message is transformed and encoded separately.
func (s *Server) Transform(dir Direction, fn TransformFunc) {
	s.transforms[dir].add(fn)
}

// runTransforms applies the chain for dir. keep=false means swallowed or failed.
func (s *Server) runTransforms(dir Direction, sp *Spark, p *Packet) (keep bool, err error) {
	for _, fn := range s.transforms[dir].load() {
		keep, err := fn(sp, p)
		if err != nil {
			return false, &TransformError{Direction: dir, Err: err}
		}
		if !keep {
			return false, nil
		}
	}
	return true, nil
}
