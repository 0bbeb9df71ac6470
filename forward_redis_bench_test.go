package allspark_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/broker/redis"
)

// BenchmarkPollingRoundTripRedis is BenchmarkPollingRoundTrip with the two
// nodes on one Redis broker value (every forwarded request and its answer
// go through PUBLISH and the subscription, a real round trip to Redis). It
// needs Redis at 127.0.0.1:6379 and is skipped without it.
//
//	go test -run '^$' -bench BenchmarkPollingRoundTripRedis -benchtime 2000x .
func BenchmarkPollingRoundTripRedis(b *testing.B) {
	conn, err := net.DialTimeout("tcp", "127.0.0.1:6379", time.Second)
	if err != nil {
		b.Skip("no Redis at 127.0.0.1:6379")
	}
	_ = conn.Close()
	n := 0
	benchPollingRoundTrip(b, func() allspark.Broker {
		n++
		rb, err := redis.New(redis.Options{Prefix: "fwdbench" + strconv.Itoa(n) + strconv.FormatInt(time.Now().UnixNano(), 36)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = rb.Close() })
		if err := rb.Health(); err != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for rb.Health() != nil && ctx.Err() == nil {
				time.Sleep(10 * time.Millisecond)
			}
		}
		return rb
	})
}
