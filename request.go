package allspark

import (
	"encoding/binary"
	"net/http"
	"strings"
)

// retainRequest returns the copy of the upgrade request a spark keeps for its
// lifetime: what Spark.Request documents, without what only an HTTP request
// with a body needs (body, parsed forms, trailers), and its headers packed
// into one string (packHeader) instead of the map net/http parsed: the copy
// has a nil Header until Spark.request unpacks it. Every header stays, as
// Primus's spark.headers has them.
func retainRequest(r *http.Request) (*http.Request, string) {
	c := new(http.Request)
	*c = *r // keeps the unexported context and path values
	c.Header = nil
	c.Body = http.NoBody
	c.GetBody = nil
	c.ContentLength = 0
	c.TransferEncoding = nil
	c.Form, c.PostForm, c.MultipartForm = nil, nil, nil
	c.Trailer = nil
	c.Response = nil
	return c, packHeader(r.Header)
}

// packHeader encodes h in one string: for each key, its length, the key,
// the number of values, and each value with its length (uvarints). One
// allocation holds every key and value, where net/http's map has a string
// per value, a slice per key and the map's buckets.
func packHeader(h http.Header) string {
	n := 0
	for k, vs := range h {
		n += len(k) + 2*binary.MaxVarintLen16
		for _, v := range vs {
			n += len(v) + binary.MaxVarintLen16
		}
	}
	b := make([]byte, 0, n)
	for k, vs := range h {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		}
	}
	return strings.Clone(string(b)) // exact size: b has slack
}

// unpackHeader rebuilds the map packHeader encoded, never nil. Keys and
// values are substrings of p, the values of all keys one slice.
func unpackHeader(p string) http.Header {
	var keys, vals int
	for r := p; len(r) > 0; {
		var nv int
		r, _ = nextPacked(r) // key
		r, nv = nextCount(r)
		keys++
		vals += nv
		for range nv {
			r, _ = nextPacked(r)
		}
	}
	h := make(http.Header, keys)
	slab := make([]string, vals)
	for r := p; len(r) > 0; {
		var k string
		var nv int
		r, k = nextPacked(r)
		r, nv = nextCount(r)
		vs := slab[:nv:nv]
		slab = slab[nv:]
		for i := range vs {
			r, vs[i] = nextPacked(r)
		}
		h[k] = vs
	}
	return h
}

// nextCount reads one uvarint from p. p is packHeader's output, so it is
// well formed; a malformed one ends the walk instead of panicking.
func nextCount(p string) (rest string, n int) {
	v, l := binary.Uvarint([]byte(p[:min(len(p), binary.MaxVarintLen64)]))
	if l <= 0 || v > uint64(len(p)) {
		return "", 0
	}
	return p[l:], int(v)
}

// nextPacked reads one length-prefixed string from p.
func nextPacked(p string) (rest, s string) {
	p, n := nextCount(p)
	if n > len(p) {
		return "", ""
	}
	return p[n:], p[:n]
}
