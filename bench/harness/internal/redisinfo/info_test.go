package redisinfo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// fakeRedis answers every connection's first command line with reply.
func fakeRedis(t *testing.T, reply func(cmd string) string) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			line, err := bufio.NewReader(c).ReadString('\n')
			if err == nil {
				_, _ = io.WriteString(c, reply(strings.TrimSpace(line)))
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

const sample = "# CPU\r\nused_cpu_sys:1.250000\r\nused_cpu_user:0.500500\r\n# Stats\r\ntotal_commands_processed:42\r\ntotal_reads_processed:17\r\n\r\n# Commandstats\r\n" +
	"cmdstat_publish:calls=30,usec=90,usec_per_call=3.00,rejected_calls=0,failed_calls=0\r\n" +
	"cmdstat_info:calls=2,usec=10,usec_per_call=5.00,rejected_calls=0,failed_calls=0\r\n"

func TestFetchParsesCountersAndCommandStats(t *testing.T) {
	var got string
	addr := fakeRedis(t, func(cmd string) string {
		got = cmd
		return fmt.Sprintf("$%d\r\n%s\r\n", len(sample), sample)
	})
	in, err := Fetch(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	if got != "INFO everything" {
		t.Fatalf("sent %q", got)
	}
	if in.Int("total_commands_processed") != 42 || in.Int("total_reads_processed") != 17 || in.Int("absent") != 0 {
		t.Fatalf("counters %v", in)
	}
	if in.CPU() != 1750500*time.Microsecond {
		t.Fatalf("cpu %v", in.CPU())
	}
	if in.Calls("publish") != 30 || in.Calls("info") != 2 || in.Calls("subscribe") != 0 {
		t.Fatalf("calls %v", in.Commands())
	}
	if cmds := in.Commands(); len(cmds) != 2 || cmds["publish"] != 30 {
		t.Fatalf("commands %v", cmds)
	}
}

func TestFetchRefusesAnOversizedReplyBeforeReadingIt(t *testing.T) {
	addr := fakeRedis(t, func(string) string { return fmt.Sprintf("$%d\r\n", MaxReply+1) })
	if _, err := Fetch(context.Background(), addr); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}

func TestFetchBoundsTheLengthLine(t *testing.T) {
	addr := fakeRedis(t, func(string) string { return "$" + strings.Repeat("9", 10000) + "\r\n" })
	if _, err := Fetch(context.Background(), addr); !errors.Is(err, ErrReply) {
		t.Fatalf("err = %v, want ErrReply", err)
	}
}

func TestFetchReportsARedisError(t *testing.T) {
	addr := fakeRedis(t, func(string) string { return "-ERR unknown command\r\n" })
	if _, err := Fetch(context.Background(), addr); !errors.Is(err, ErrReply) || !strings.Contains(err.Error(), "unknown command") {
		t.Fatalf("err = %v", err)
	}
}

func TestPing(t *testing.T) {
	ok := fakeRedis(t, func(cmd string) string {
		if cmd == "PING" {
			return "+PONG\r\n"
		}
		return "-ERR\r\n"
	})
	if err := Ping(context.Background(), ok); err != nil {
		t.Fatal(err)
	}
	loading := fakeRedis(t, func(string) string { return "-LOADING Redis is loading the dataset in memory\r\n" })
	if err := Ping(context.Background(), loading); !errors.Is(err, ErrReply) {
		t.Fatalf("err = %v, want ErrReply", err)
	}
}

func TestFetchGivesUpOnASilentServer(t *testing.T) {
	addr := fakeRedis(t, func(string) string { time.Sleep(2 * time.Second); return "" })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := Fetch(ctx, addr); err == nil || time.Since(start) > time.Second {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
}
