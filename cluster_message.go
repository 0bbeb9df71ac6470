package allspark

import (
	"encoding/binary"
	"errors"
)

// Node-to-node messages (Broker.Send) share one small binary envelope:
//
//	version (1 byte, 1) | kind (1 byte) | id (uvarint) | op | err | body
//
// op and err are uvarint-length-prefixed strings; body is the rest (JSON
// written by the op's handler, or raw bytes for forwarded HTTP bodies).
const nodeMessageVersion = 1

// Kinds of node messages.
const (
	msgHeartbeat byte = 'h' // "I am alive"; answered by a heartbeat when the sender was unknown
	msgBye       byte = 'b' // the sender is shutting down: forget it now
	msgRequest   byte = 'q' // run op with body and answer
	msgAnswer    byte = 'a' // the answer to request id: body, or err
	msgNotice    byte = 'n' // a one-way message for op's notice handler; no answer
)

// errBadNodeMessage: bytes from the broker that are no node message.
var errBadNodeMessage = errors.New("allspark: malformed node message")

type nodeMessage struct {
	kind byte
	id   uint64
	op   string
	err  string
	body []byte
}

func (m *nodeMessage) marshal() []byte {
	b := make([]byte, 0, 16+len(m.op)+len(m.err)+len(m.body))
	b = append(b, nodeMessageVersion, m.kind)
	b = binary.AppendUvarint(b, m.id)
	b = appendString(b, m.op)
	b = appendString(b, m.err)
	return append(b, m.body...)
}

func unmarshalNodeMessage(b []byte) (nodeMessage, error) {
	if len(b) < 2 || b[0] != nodeMessageVersion {
		return nodeMessage{}, errBadNodeMessage
	}
	m := nodeMessage{kind: b[1]}
	switch m.kind {
	case msgHeartbeat, msgBye, msgRequest, msgAnswer, msgNotice:
	default:
		return nodeMessage{}, errBadNodeMessage
	}
	r := pubReader{b: b[2:]}
	m.id = r.uvarint()
	m.op = r.string()
	m.err = r.string()
	if r.bad {
		return nodeMessage{}, errBadNodeMessage
	}
	m.body = r.b
	return m, nil
}
