package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/broker/nats"
	"github.com/allspark/allspark/broker/redis"
)

// errBrokerURL reports a -broker value whose scheme names no broker.
var errBrokerURL = errors.New("srv-allspark: -broker takes redis://host:port or nats://host:port")

// openBroker returns the broker named by url (redis://…, nats://…) and what closes
// it; an empty url is the default private memory broker (a single node).
func openBroker(url string) (allspark.Broker, io.Closer, error) {
	switch {
	case url == "":
		return nil, nil, nil
	case strings.HasPrefix(url, "redis://"), strings.HasPrefix(url, "rediss://"):
		o, err := redis.ParseURL(url)
		if err != nil {
			return nil, nil, err
		}
		b, err := redis.New(o)
		if err != nil {
			return nil, nil, err
		}
		return b, b, nil
	case strings.HasPrefix(url, "nats://"):
		o, err := nats.ParseURL(url)
		if err != nil {
			return nil, nil, err
		}
		b, err := nats.New(o)
		if err != nil {
			return nil, nil, err
		}
		return b, b, nil
	}
	return nil, nil, fmt.Errorf("%w: %q", errBrokerURL, url)
}

// waitHealthy waits until a broker that reports its health is connected, so
// the node says READY only once publications can flow (the harness starts
// publishing soon after).
func waitHealthy(ctx context.Context, b allspark.Broker, limit time.Duration) error {
	hr, ok := b.(allspark.HealthReporter)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		err := hr.Health()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("broker not healthy after %v: %w", limit, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
