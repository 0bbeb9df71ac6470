package directupgrade

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"net/http"
	"os"
	"time"
)

// headBuf is a pooled head buffer: a connect leaves no buffer behind.
type headBuf struct{ b []byte }

// parser is a pooled reader for http.ReadRequest, held only while a whole
// head is parsed (a connection still sending its head holds none).
type parser struct {
	rd bytes.Reader
	br *bufio.Reader
}

func newParser(size int) *parser {
	p := new(parser)
	p.br = bufio.NewReaderSize(&p.rd, size)
	return p
}

// parse reads the request in head. The request keeps nothing of head or
// of the reader's buffer: net/textproto copies what it keeps.
func (p *parser) parse(head []byte) (*http.Request, error) {
	p.rd.Reset(head)
	p.br.Reset(&p.rd)
	r, err := http.ReadRequest(p.br)
	p.rd.Reset(nil)
	p.br.Reset(&p.rd)
	return r, err
}

// headEnd returns the length of the request head in b — through the empty
// line that ends it, CRLF or bare LF as net/http accepts — or -1 while the
// head is incomplete.
func headEnd(b []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		k := i + j + 1 // just past this line's LF
		switch {
		case k < len(b) && b[k] == '\n':
			return k + 1
		case k+1 < len(b) && b[k] == '\r' && b[k+1] == '\n':
			return k + 2
		}
		i = k
	}
}

// mayBeUpgrade reports whether b, the first bytes of a connection, can
// still start a GET request: anything else is handed over at once.
func mayBeUpgrade(b []byte) bool {
	const get = "GET "
	n := min(len(b), len(get))
	return string(b[:n]) == get[:n]
}

// readHead reads from c into buf until a whole head has arrived, the first
// bytes cannot begin a GET, buf is full, the deadline passes or the peer
// stops. It returns the bytes read and the head's length (-1 when there is
// no whole GET head); err is the read error that ended it, if any.
func readHead(c net.Conn, buf []byte, timeout time.Duration) (n, end int, err error) {
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	defer func() { _ = c.SetReadDeadline(time.Time{}) }()
	for n < len(buf) {
		var m int
		m, err = c.Read(buf[n:])
		n += m
		if !mayBeUpgrade(buf[:n]) {
			return n, -1, nil
		}
		if end = headEnd(buf[:n]); end >= 0 {
			return n, end, nil
		}
		if err != nil {
			return n, -1, err
		}
	}
	return n, -1, nil
}

// timedOut reports whether err is a read deadline passing.
func timedOut(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
