package allspark_test

import (
	"fmt"
	"testing"

	"github.com/allspark/allspark"
)

// BenchmarkPollingRoundTrip measures one polling round trip (a POST of a
// message, then the GET that brings its echo back) of an Engine.IO and a
// SockJS session, sent to the node that holds the session (direct) or to
// the other one (forwarded: both requests cross the broker and back).
// Real HTTP over loopback, two nodes in one process on the MemoryBroker.
//
//	go test -run '^$' -bench BenchmarkPollingRoundTrip -benchtime 2000x .
func BenchmarkPollingRoundTrip(b *testing.B) {
	benchPollingRoundTrip(b, func() allspark.Broker { return allspark.NewMemoryBroker() })
}

func benchPollingRoundTrip(b *testing.B, broker func() allspark.Broker) {
	for _, wire := range []string{"eio", "sockjs"} {
		for _, path := range []string{"direct", "forwarded"} {
			b.Run(wire+"/"+path, func(b *testing.B) {
				fc := startForwardCluster(b, broker(), 2, allspark.Options{}, nil)
				target := fc.bases[0]
				if path == "forwarded" {
					target = fc.bases[1]
				}
				switch wire {
				case "eio":
					c := eioOpen(b, fc.bases[0])
					c.base = target
					b.ResetTimer()
					for i := range b.N {
						c.send(fmt.Sprintf(`4"m%d"`, i))
						c.until(equals(fmt.Sprintf(`"m%d"`, i)))
					}
				case "sockjs":
					c := sjOpen(b, fc.bases[0]+"/sockjs", "bench")
					c.base = target + "/sockjs"
					b.ResetTimer()
					for i := range b.N {
						c.send(fmt.Sprintf(`["m%d"]`, i))
						if got := c.messages(1); got[0] != fmt.Sprintf("m%d", i) {
							b.Fatalf("echo %q", got)
						}
					}
				}
				b.StopTimer()
				if out, _ := fc.forwarded(); (out > 0) != (path == "forwarded") {
					b.Fatalf("%s: %d forwarded", path, out)
				}
			})
		}
	}
}
