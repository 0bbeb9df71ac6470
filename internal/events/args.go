package events

import "fmt"

// Several is a handler result sent as several ack arguments. allspark.Args
// and client.Args are aliases of it, so both ends shape replies one way.
type Several []any

// ReplyArgs turns a handler's result into the arguments of its ack: nil
// sends none, a Several sends its elements, anything else is the single
// argument.
func ReplyArgs(result any) []any {
	switch r := result.(type) {
	case nil:
		return nil
	case Several:
		return r
	}
	return []any{result}
}

// DecodeArg decodes argument i of args into dst (see Decode). The error
// message is written for the remote caller: which argument, and why.
func DecodeArg(args []any, i int, dst any) error {
	if i < 0 || i >= len(args) {
		return fmt.Errorf("argument %d missing (got %d)", i+1, len(args))
	}
	if err := Decode(args[i], dst); err != nil {
		return fmt.Errorf("argument %d: %v", i+1, err)
	}
	return nil
}
