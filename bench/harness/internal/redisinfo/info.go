package redisinfo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// MaxReply bounds the INFO reply read: a Redis INFO is a few KiB, and a
// length beyond this is refused before anything is allocated for it.
const MaxReply = 1 << 20

// Errors.
var (
	// ErrReply reports a reply that is not what the command answers.
	ErrReply = errors.New("redisinfo: unexpected reply")
	// ErrTooLarge reports a reply announcing more than MaxReply bytes.
	ErrTooLarge = errors.New("redisinfo: reply too large")
)

// Info is an INFO reply: every "key:value" line of every section.
type Info map[string]string

// Int returns key as an integer, 0 when absent or not one.
func (in Info) Int(key string) int64 {
	n, _ := strconv.ParseInt(in[key], 10, 64)
	return n
}

// Float returns key as a number (used_cpu_sys is seconds with
// microseconds), 0 when absent or not one.
func (in Info) Float(key string) float64 {
	f, _ := strconv.ParseFloat(in[key], 64)
	return f
}

// CPU is the server's CPU time so far, all its threads, user and system
// (INFO cpu, microsecond resolution where /proc counts 10 ms ticks).
func (in Info) CPU() time.Duration {
	return time.Duration((in.Float("used_cpu_sys") + in.Float("used_cpu_user")) * float64(time.Second))
}

// Calls returns the calls count of a command from its commandstats line
// (cmdstat_<name>:calls=N,usec=…), 0 when the command never ran.
func (in Info) Calls(command string) int64 {
	for f := range strings.SplitSeq(in["cmdstat_"+command], ",") {
		if v, ok := strings.CutPrefix(f, "calls="); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// Commands returns the calls of every command that ran, by name.
func (in Info) Commands() map[string]int64 {
	out := map[string]int64{}
	for k := range in {
		if name, ok := strings.CutPrefix(k, "cmdstat_"); ok {
			out[name] = in.Calls(name)
		}
	}
	return out
}

// Fetch runs INFO everything on the Redis server at addr (one short
// connection, bounded by ctx and a 5 s deadline).
func Fetch(ctx context.Context, addr string) (Info, error) {
	var info Info
	err := roundTrip(ctx, addr, "INFO everything\r\n", func(br *bufio.Reader) error {
		b, err := readBulk(br)
		if err != nil {
			return err
		}
		info = Parse(b)
		return nil
	})
	return info, err
}

// Ping reports whether the Redis server at addr answers PING with PONG.
func Ping(ctx context.Context, addr string) error {
	return roundTrip(ctx, addr, "PING\r\n", func(br *bufio.Reader) error {
		line, err := readLine(br)
		if err != nil {
			return err
		}
		if line != "+PONG" {
			return fmt.Errorf("%w: %q to PING", ErrReply, line)
		}
		return nil
	})
}

func roundTrip(ctx context.Context, addr, cmd string, read func(*bufio.Reader) error) error {
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp4", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	if err := c.SetDeadline(deadline); err != nil {
		return err
	}
	if _, err := io.WriteString(c, cmd); err != nil {
		return err
	}
	return read(bufio.NewReaderSize(c, 4096))
}

// readLine reads one CRLF-terminated line of at most 4 KiB (the reader's
// buffer), without the CRLF.
func readLine(br *bufio.Reader) (string, error) {
	b, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return "", fmt.Errorf("%w: line longer than %d bytes", ErrReply, br.Size())
		}
		return "", err
	}
	return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"), nil
}

// readBulk reads a RESP bulk string ($<len>\r\n<bytes>\r\n) of at most
// MaxReply bytes.
func readBulk(br *bufio.Reader) ([]byte, error) {
	line, err := readLine(br)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(line, "-") {
		return nil, fmt.Errorf("%w: %s", ErrReply, line[1:])
	}
	rest, ok := strings.CutPrefix(line, "$")
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrReply, line)
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("%w: bulk length %q", ErrReply, rest)
	}
	if n > MaxReply {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, n)
	}
	b := make([]byte, n+2)
	if _, err := io.ReadFull(br, b); err != nil {
		return nil, err
	}
	return b[:n], nil
}

// Parse reads the "key:value" lines of an INFO text; section headers
// ("# Stats") and blank lines are skipped.
func Parse(b []byte) Info {
	out := Info{}
	for line := range strings.SplitSeq(string(b), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = v
		}
	}
	return out
}
