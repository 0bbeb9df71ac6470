package allspark

import (
	"context"
	"encoding/binary"
	"net/http"
	"net/url"
	"strings"
)

// retainRequest returns what a spark keeps of its upgrade request for its
// lifetime: the request line, Host, RemoteAddr and every header packed into
// one string (packRequest), from which Spark.Request builds the request on
// its first call. Only a request whose copy would carry what the packed form
// cannot — TLS state, or path values of a ServeMux pattern with wildcards —
// is kept as a trimmed copy (keepRequest), with a nil Header until
// Spark.request unpacks it. Every header stays, as Primus's spark.headers
// has them.
func retainRequest(r *http.Request) (kept *http.Request, packed string) {
	if r.TLS != nil || strings.Contains(r.Pattern, "{") {
		return keepRequest(r), packRequest(r)
	}
	return nil, packRequest(r)
}

// keepRequest is the trimmed copy: without what only an HTTP request with
// a body needs (body, parsed forms, trailers) and without its Header.
func keepRequest(r *http.Request) *http.Request {
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
	return c
}

// noRequestURI in the RequestURI slot marks a request that had none (not
// read by a server): its URL text is URL.String(), parsed with url.Parse.
const noRequestURI = "\x00"

// packedRequest is what packRequest keeps besides the headers.
type packedRequest struct {
	method, url, requestURI, proto, host, remoteAddr string
	header                                           string // packHeader's form
}

// packRequest encodes r's request line, Host, RemoteAddr and headers in one
// string: six length-prefixed strings (method, URL text, RequestURI when
// it differs from the URL text, protocol, Host, RemoteAddr), then
// packHeader's form of the headers.
func packRequest(r *http.Request) string {
	// A request a server read has its RequestURI, the URL's text as sent:
	// kept as both (building the URL's text again would leave a string of
	// garbage per connect). A request built otherwise has none.
	u, uri := r.RequestURI, ""
	if u == "" {
		u, uri = r.URL.String(), noRequestURI
	}
	fields := [...]string{r.Method, u, uri, r.Proto, r.Host, r.RemoteAddr}
	n := headerPackedLen(r.Header)
	for _, f := range fields {
		n += uvarintLen(len(f)) + len(f)
	}
	var b strings.Builder
	b.Grow(n)
	for _, f := range fields {
		writePacked(&b, f)
	}
	writeHeader(&b, r.Header)
	return b.String()
}

// unpackRequest splits packRequest's output.
func unpackRequest(p string) packedRequest {
	var f [6]string
	for i := range f {
		p, f[i] = nextPacked(p)
	}
	pr := packedRequest{method: f[0], url: f[1], requestURI: f[2], proto: f[3], host: f[4], remoteAddr: f[5], header: p}
	switch pr.requestURI {
	case "":
		pr.requestURI = pr.url
	case noRequestURI:
		pr.requestURI = ""
	}
	return pr
}

// rawQuery is the query string of the packed request's URL. A request
// target has no fragment (url.ParseRequestURI keeps a '#' in the query).
func (pr packedRequest) rawQuery() string {
	u := pr.url
	if i := strings.IndexByte(u, '#'); i >= 0 && pr.requestURI == "" {
		u = u[:i]
	}
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[i+1:]
	}
	return ""
}

// build makes the request Spark.Request returns, with ctx as its context.
func (pr packedRequest) build(ctx context.Context) *http.Request {
	parse := url.ParseRequestURI // as net/http read it
	if pr.requestURI == "" {
		parse = url.Parse // URL.String()'s text
	}
	u, err := parse(pr.url)
	if err != nil { // a URL that was parsed once: not expected
		u = &url.URL{Path: pr.url}
	}
	major, minor, _ := http.ParseHTTPVersion(pr.proto)
	r := &http.Request{
		Method:     pr.method,
		URL:        u,
		Proto:      pr.proto,
		ProtoMajor: major,
		ProtoMinor: minor,
		Header:     unpackHeader(pr.header),
		Body:       http.NoBody,
		Host:       pr.host,
		RemoteAddr: pr.remoteAddr,
		RequestURI: pr.requestURI,
	}
	return r.WithContext(ctx)
}

// packHeader encodes h in one string: for each key, its length, the key,
// the number of values, and each value with its length (uvarints). One
// allocation holds every key and value, where net/http's map has a string
// per value, a slice per key and the map's buckets.
func packHeader(h http.Header) string {
	// Exactly the bytes needed: the Builder's buffer becomes the string, so
	// packing leaves no garbage behind (a connect storm's garbage is what
	// grows the heap past its live size).
	var b strings.Builder
	b.Grow(headerPackedLen(h))
	writeHeader(&b, h)
	return b.String()
}

// headerPackedLen is the length of packHeader(h).
func headerPackedLen(h http.Header) int {
	n := 0
	for k, vs := range h {
		n += uvarintLen(len(k)) + len(k) + uvarintLen(len(vs))
		for _, v := range vs {
			n += uvarintLen(len(v)) + len(v)
		}
	}
	return n
}

// writeHeader writes packHeader's form of h to b.
func writeHeader(b *strings.Builder, h http.Header) {
	var tmp [binary.MaxVarintLen64]byte
	for k, vs := range h {
		writePacked(b, k)
		b.Write(binary.AppendUvarint(tmp[:0], uint64(len(vs))))
		for _, v := range vs {
			writePacked(b, v)
		}
	}
}

// writePacked writes s with its uvarint length in front.
func writePacked(b *strings.Builder, s string) {
	var tmp [binary.MaxVarintLen64]byte
	b.Write(binary.AppendUvarint(tmp[:0], uint64(len(s))))
	b.WriteString(s)
}

// uvarintLen is the length of n as a uvarint.
func uvarintLen(n int) int {
	l := 1
	for ; n >= 0x80; n >>= 7 {
		l++
	}
	return l
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
