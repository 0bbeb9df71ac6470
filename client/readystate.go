package client

// ReadyState is the client's connection state, numbered as Primus numbers it.
type ReadyState int32

const (
	Opening ReadyState = 1 // a connection attempt is in progress
	Closed  ReadyState = 2 // no connection (new, ended, or between attempts)
	Open    ReadyState = 3 // connected; writes go straight to the socket
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
