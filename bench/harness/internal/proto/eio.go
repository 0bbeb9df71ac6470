package proto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Engine.IO v4 long-polling, client side, reduced to what the poll-fanout
// scenario needs: the handshake's open packet, splitting a poll response into
// packets, and building a POST body. Facts: Engine.IO protocol v4 (packet
// types 0–6, payloads joined with the record separator 0x1e, binary as "b" +
// base64 on polling).

// Engine.IO v4 packet types (the first byte of a text packet).
const (
	EIOOpen    byte = '0'
	EIOClose   byte = '1'
	EIOPing    byte = '2'
	EIOPong    byte = '3'
	EIOMessage byte = '4'
	EIOUpgrade byte = '5'
	EIONoop    byte = '6'
	// EIOBinary marks a base64 binary message on polling ("b…").
	EIOBinary byte = 'b'
)

// EIOSeparator joins packets in a polling payload.
const EIOSeparator = 0x1e

// ErrEIO reports a payload or open packet that is not valid Engine.IO v4.
var ErrEIO = errors.New("proto: invalid Engine.IO payload")

// EIOOpenPacket is the handshake reply's data.
type EIOOpenPacket struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int      `json:"pingInterval"` // ms
	PingTimeout  int      `json:"pingTimeout"`  // ms
	MaxPayload   int      `json:"maxPayload"`   // bytes a POST body may hold
}

// ParseEIOOpen parses the handshake response body: an open packet, possibly
// followed (after a separator) by more packets, which it returns as rest.
func ParseEIOOpen(body []byte) (open EIOOpenPacket, rest []byte, err error) {
	first, rest, _ := bytes.Cut(body, []byte{EIOSeparator})
	if len(first) < 2 || first[0] != EIOOpen {
		return open, nil, fmt.Errorf("%w: handshake reply does not start with an open packet: %.40q", ErrEIO, body)
	}
	if err := json.Unmarshal(first[1:], &open); err != nil {
		return open, nil, fmt.Errorf("%w: open packet: %v", ErrEIO, err)
	}
	if open.SID == "" {
		return open, nil, fmt.Errorf("%w: open packet without sid", ErrEIO)
	}
	if open.MaxPayload < 0 || open.PingInterval < 0 || open.PingTimeout < 0 {
		return open, nil, fmt.Errorf("%w: negative value in open packet", ErrEIO)
	}
	return open, rest, nil
}

// EachEIOPacket calls fn with the type and data of every packet in a polling
// payload, in order, and stops at the first error fn returns. An empty
// payload has no packets; an empty packet or an unknown type is ErrEIO. The
// data slices alias payload.
func EachEIOPacket(payload []byte, fn func(typ byte, data []byte) error) error {
	for len(payload) > 0 {
		pkt, rest, more := bytes.Cut(payload, []byte{EIOSeparator})
		if len(pkt) == 0 || more && len(rest) == 0 {
			return fmt.Errorf("%w: empty packet", ErrEIO)
		}
		switch pkt[0] {
		case EIOOpen, EIOClose, EIOPing, EIOPong, EIOMessage, EIOUpgrade, EIONoop, EIOBinary:
		default:
			return fmt.Errorf("%w: packet type %q", ErrEIO, pkt[0])
		}
		if err := fn(pkt[0], pkt[1:]); err != nil {
			return err
		}
		payload = rest
	}
	return nil
}

// AppendEIOPacket appends one text packet to a polling payload under
// construction, with a separator when payload already holds a packet.
func AppendEIOPacket(payload []byte, typ byte, data []byte) []byte {
	if len(payload) > 0 {
		payload = append(payload, EIOSeparator)
	}
	payload = append(payload, typ)
	return append(payload, data...)
}

// EIOPacketLen is the number of bytes AppendEIOPacket adds for data to a
// payload that already holds nonEmpty packets or not.
func EIOPacketLen(nonEmpty bool, data []byte) int {
	n := 1 + len(data)
	if nonEmpty {
		n++
	}
	return n
}

// PollPath is the request target of an Engine.IO v4 polling handshake at the
// Primus pathname (/primus/, trailing slash as engine.io-client adds it),
// joining rooms.
func PollPath(rooms []string) string {
	return roomsQuery("/primus/?EIO=4&transport=polling", rooms)
}
