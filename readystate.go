package allspark

// ReadyState is a spark's state, numbered as Primus numbers them.
type ReadyState int32

const (
	Opening ReadyState = 1 // only for parity with the client's numbering
	Closed  ReadyState = 2 // ended; writes return ErrClosed
	Open    ReadyState = 3 // connected; the state from creation on
)

func (r ReadyState) String() string {
	switch r {
	case Opening:
		return "opening"
	case Closed:
		return "closed"
	case Open:
		return "open"
	}
	return "unknown"
}
