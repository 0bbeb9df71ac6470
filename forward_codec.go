package allspark

import (
	"encoding/binary"
	"errors"
	"net/http"
)

// A forwarded polling request and its answer travel as the body of a
// node request ("forward") in a small binary envelope, so that a POST body
// crosses the broker as it came (no base64), and the decoder reads only
// what arrived:
//
//	request: version 1 | token | method | url | host | remote |
//	         content length + 1 | header count | (name, value)… | body
//	answer:  version 1 | status | header count | (name, value)… | body
//
// Numbers are uvarints, strings uvarint-length-prefixed; the body is the
// rest. token names the request for its cancellation ("forward-cancel").
const forwardVersion = 1

// maxForwardHeaders bounds the header fields a forwarded request or answer
// may carry (the request carries only forwardedHeaders; answers carry a
// handful).
const maxForwardHeaders = 64

// errBadForward: a forward envelope that does not decode.
var errBadForward = errors.New("allspark: malformed forwarded request")

type forwardRequest struct {
	token         uint64
	method        string
	url           string // path and query, as in the request line
	host          string
	remote        string // the client's address as the receiving node saw it
	contentLength int64  // as announced; -1 unknown
	header        http.Header
	body          []byte
}

type forwardAnswer struct {
	status int
	header http.Header
	body   []byte
}

func (q *forwardRequest) marshal() []byte {
	b := make([]byte, 0, 64+len(q.url)+len(q.body)+64*len(q.header))
	b = append(b, forwardVersion)
	b = binary.AppendUvarint(b, q.token)
	b = appendString(b, q.method)
	b = appendString(b, q.url)
	b = appendString(b, q.host)
	b = appendString(b, q.remote)
	b = binary.AppendUvarint(b, uint64(q.contentLength+1))
	b = appendHeader(b, q.header)
	return append(b, q.body...)
}

func unmarshalForwardRequest(b []byte) (*forwardRequest, error) {
	if len(b) < 1 || b[0] != forwardVersion {
		return nil, errBadForward
	}
	r := pubReader{b: b[1:]}
	q := &forwardRequest{token: r.uvarint(), method: r.string(), url: r.string(), host: r.string(), remote: r.string()}
	cl := r.uvarint()
	q.header = r.header()
	if r.bad || cl > 1<<62 || q.method == "" || q.url == "" {
		return nil, errBadForward
	}
	q.contentLength = int64(cl) - 1
	q.body = r.b
	return q, nil
}

func (a *forwardAnswer) marshal() []byte {
	b := make([]byte, 0, 32+len(a.body)+64*len(a.header))
	b = append(b, forwardVersion)
	b = binary.AppendUvarint(b, uint64(a.status))
	b = appendHeader(b, a.header)
	return append(b, a.body...)
}

func unmarshalForwardAnswer(b []byte) (*forwardAnswer, error) {
	if len(b) < 1 || b[0] != forwardVersion {
		return nil, errBadForward
	}
	r := pubReader{b: b[1:]}
	status := r.uvarint()
	a := &forwardAnswer{header: r.header()}
	if r.bad || status < 100 || status > 999 {
		return nil, errBadForward
	}
	a.status, a.body = int(status), r.b
	return a, nil
}

// appendHeader writes the field count, then each value with its name.
func appendHeader(b []byte, h http.Header) []byte {
	n := 0
	for _, vs := range h {
		n += len(vs)
	}
	b = binary.AppendUvarint(b, uint64(n))
	for k, vs := range h {
		for _, v := range vs {
			b = appendString(b, k)
			b = appendString(b, v)
		}
	}
	return b
}

// header reads what appendHeader wrote.
func (r *pubReader) header() http.Header {
	n := r.uvarint()
	if r.bad || n > maxForwardHeaders || n > uint64(len(r.b)) {
		r.bad = true
		return nil
	}
	h := make(http.Header, n)
	for range n {
		k, v := r.string(), r.string()
		if r.bad {
			return nil
		}
		h[k] = append(h[k], v)
	}
	return h
}
