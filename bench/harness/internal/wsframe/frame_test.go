package wsframe

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

func TestAppendFrameLengths(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 0xFFFF, 0x10000} {
		p := bytes.Repeat([]byte{'x'}, n)
		for _, mask := range []*[4]byte{nil, {1, 2, 3, 4}} {
			f := AppendFrame(nil, OpText, p, mask)
			h, got, err := ReadFrame(bufio.NewReader(bytes.NewReader(f)), nil, 1<<20)
			if err != nil {
				t.Fatalf("n=%d mask=%v: %v", n, mask != nil, err)
			}
			if !h.Fin || h.Op != OpText || h.Masked != (mask != nil) || h.Length != int64(n) {
				t.Fatalf("n=%d: header %+v", n, h)
			}
			if !bytes.Equal(got, p) {
				t.Fatalf("n=%d: payload differs after the round trip", n)
			}
		}
	}
}

func TestAppendFrameKnownBytes(t *testing.T) {
	// RFC 6455 §5.7: a masked "Hello".
	got := AppendFrame(nil, OpText, []byte("Hello"), &[4]byte{0x37, 0xfa, 0x21, 0x3d})
	want := []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}
	if !bytes.Equal(got, want) {
		t.Fatalf("got % x, want % x", got, want)
	}
	if got := AppendFrame(nil, OpText, []byte("Hello"), nil); !bytes.Equal(got, []byte{0x81, 0x05, 'H', 'e', 'l', 'l', 'o'}) {
		t.Fatalf("unmasked: % x", got)
	}
}

func TestAppendFrameLeavesPayload(t *testing.T) {
	p := []byte("abc")
	AppendFrame(nil, OpText, p, &[4]byte{9, 9, 9, 9})
	if string(p) != "abc" {
		t.Fatalf("payload modified: %q", p)
	}
}

func TestReadFrameLimit(t *testing.T) {
	f := AppendFrame(nil, OpBinary, make([]byte, 200), nil)
	_, _, err := ReadFrame(bufio.NewReader(bytes.NewReader(f)), nil, 100)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}

func TestReadHeaderRejectsBadControl(t *testing.T) {
	// A ping without FIN.
	_, err := ReadHeader(bufio.NewReader(bytes.NewReader([]byte{0x09, 0x00})))
	if !errors.Is(err, ErrProtocol) {
		t.Fatalf("err = %v, want ErrProtocol", err)
	}
	// RSV1 set.
	_, err = ReadHeader(bufio.NewReader(bytes.NewReader([]byte{0xC1, 0x00})))
	if !errors.Is(err, ErrProtocol) {
		t.Fatalf("err = %v, want ErrProtocol", err)
	}
}

func TestReaderJoinsFragmentsAndHandsControl(t *testing.T) {
	var b []byte
	b = append(b, 0x01, 3, 'a', 'b', 'c')                // text, no FIN
	b = AppendFrame(b, OpPing, []byte("p"), nil)         // interleaved ping
	b = append(b, 0x80, 2, 'd', 'e')                     // continuation, FIN
	b = AppendFrame(b, OpBinary, []byte{1, 2}, nil)      // next message
	b = AppendFrame(b, OpClose, []byte{0x03, 0xe8}, nil) // close 1000
	var ctl []string
	rd := &Reader{R: bufio.NewReader(bytes.NewReader(b)), Limit: 1 << 10, OnControl: func(op byte, p []byte) error {
		ctl = append(ctl, string(rune('0'+op))+string(p))
		return nil
	}}
	op, p, err := rd.ReadMessage()
	if err != nil || op != OpText || string(p) != "abcde" {
		t.Fatalf("first = %d %q %v", op, p, err)
	}
	op, p, err = rd.ReadMessage()
	if err != nil || op != OpBinary || !bytes.Equal(p, []byte{1, 2}) {
		t.Fatalf("second = %d %v %v", op, p, err)
	}
	if _, _, err = rd.ReadMessage(); !errors.Is(err, ErrClosed) {
		t.Fatalf("third err = %v, want ErrClosed", err)
	}
	if len(ctl) != 2 || ctl[0] != "9p" {
		t.Fatalf("control frames seen: %q", ctl)
	}
}

func TestAcceptKey(t *testing.T) {
	// RFC 6455 §1.3 example.
	if got := AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("AcceptKey = %q", got)
	}
}

func TestDialAccept(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- "accept: " + err.Error()
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		path, err := Accept(c, br)
		if err != nil {
			done <- "handshake: " + err.Error()
			return
		}
		_, p, err := ReadFrame(br, nil, 1<<10)
		if err != nil {
			done <- "read: " + err.Error()
			return
		}
		_, _ = c.Write(AppendFrame(nil, OpText, p, nil))
		done <- path
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, br, err := Dial(ctx, DialOptions{Addr: ln.Addr().String(), Path: "/x?rooms=a,b"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(AppendFrame(nil, OpText, []byte("hi"), &[4]byte{1, 2, 3, 4})); err != nil {
		t.Fatal(err)
	}
	_, p, err := ReadFrame(br, nil, 1<<10)
	if err != nil || string(p) != "hi" {
		t.Fatalf("echo = %q %v", p, err)
	}
	if got := <-done; got != "/x?rooms=a,b" {
		t.Fatalf("server saw %q", got)
	}
}

func TestAcceptRejectsPlainHTTP(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() {
		_, _ = b.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		_, _ = bufio.NewReader(b).ReadString('\n')
	}()
	if _, err := Accept(a, bufio.NewReader(a)); !errors.Is(err, ErrHandshake) {
		t.Fatalf("err = %v, want ErrHandshake", err)
	}
}

func TestDialRejectsNon101(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = bufio.NewReader(c).ReadString('\n')
		_, _ = c.Write([]byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, err = Dial(ctx, DialOptions{Addr: ln.Addr().String(), Path: "/"})
	if !errors.Is(err, ErrHandshake) || !strings.Contains(err.Error(), "404") {
		t.Fatalf("err = %v, want ErrHandshake with the status", err)
	}
}
