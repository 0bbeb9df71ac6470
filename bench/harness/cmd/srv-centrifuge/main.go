// Command srv-centrifuge is the benchmark's centrifuge server: the
// github.com/centrifugal/centrifuge library at its defaults (memory broker,
// WebSocket handler, JSON protocol), anonymous connections allowed, every
// subscribe and client publish allowed, and every async message sent back to
// its sender (the echo scenario).
//
// With -redis host:port (the cluster scenario) the memory broker is replaced
// by centrifuge's Redis broker on one shard at that address
// (centrifuge.NewRedisShard + NewRedisBroker at their defaults: rueidis,
// PUB/SUB, no history); the broker is also the node's controller, so the
// nodes of a cluster find each other through the same Redis.
//
//	srv-centrifuge [-addr 127.0.0.1:9100] [-reuseport] [-pprof addr] [-redis 127.0.0.1:6379]
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"

	"github.com/allspark/allspark/bench/harness/internal/serve"
	"github.com/centrifugal/centrifuge"
)

func main() {
	var f serve.Flags
	f.Register(flag.CommandLine)
	redis := flag.String("redis", "", "use centrifuge's Redis broker on this host:port (empty: the memory broker)")
	flag.Parse()
	if err := run(f, *redis); err != nil {
		fmt.Fprintln(os.Stderr, "srv-centrifuge:", err)
		os.Exit(1)
	}
}

func run(f serve.Flags, redis string) error {
	node, err := centrifuge.New(centrifuge.Config{LogLevel: centrifuge.LogLevelNone})
	if err != nil {
		return err
	}
	if redis != "" {
		shard, err := centrifuge.NewRedisShard(node, centrifuge.RedisShardConfig{Address: redis})
		if err != nil {
			return fmt.Errorf("redis shard: %w", err)
		}
		broker, err := centrifuge.NewRedisBroker(node, centrifuge.RedisBrokerConfig{Shards: []*centrifuge.RedisShard{shard}})
		if err != nil {
			return fmt.Errorf("redis broker: %w", err)
		}
		node.SetBroker(broker) // also the controller: node discovery over the same Redis
	}
	node.OnConnecting(func(context.Context, centrifuge.ConnectEvent) (centrifuge.ConnectReply, error) {
		return centrifuge.ConnectReply{Credentials: &centrifuge.Credentials{}}, nil // anonymous
	})
	node.OnConnect(func(c *centrifuge.Client) {
		c.OnSubscribe(func(_ centrifuge.SubscribeEvent, cb centrifuge.SubscribeCallback) {
			cb(centrifuge.SubscribeReply{}, nil)
		})
		// An empty reply lets centrifuge publish into the channel itself
		// (node.Publish through the memory broker).
		c.OnPublish(func(_ centrifuge.PublishEvent, cb centrifuge.PublishCallback) {
			cb(centrifuge.PublishReply{}, nil)
		})
		c.OnMessage(func(e centrifuge.MessageEvent) { _ = c.Send(e.Data) })
	})
	if err := node.Run(); err != nil {
		return err
	}
	defer func() { _ = node.Shutdown(context.Background()) }()
	mux := http.NewServeMux()
	mux.Handle("/connection/websocket", centrifuge.NewWebsocketHandler(node, centrifuge.WebsocketConfig{}))
	return serve.Run(f, mux)
}
