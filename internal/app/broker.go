package app

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/allspark/allspark"
	natsbroker "github.com/allspark/allspark/broker/nats"
	redisbroker "github.com/allspark/allspark/broker/redis"
)

// brokerSchemes are the URL schemes --broker accepts besides "memory".
var brokerSchemes = []string{"redis", "rediss", "redis-sentinel", "redis-cluster", "nats", "tls"}

// knownBroker reports whether spec names a broker this binary has.
func knownBroker(spec string) bool {
	if spec == "memory" {
		return true
	}
	scheme, _, ok := strings.Cut(spec, "://")
	if !ok {
		return false
	}
	for _, s := range brokerSchemes {
		if strings.EqualFold(scheme, s) {
			return true
		}
	}
	return false
}

// redactURL masks the password of a broker URL for logs and errors.
func redactURL(spec string) string {
	u, err := url.Parse(spec)
	if err != nil || u.User == nil {
		if at := strings.LastIndex(spec, "@"); at >= 0 {
			return Masked + spec[at:]
		}
		return spec
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), Masked)
	}
	return u.String()
}

// openBroker connects the broker --broker names (not "memory") and returns
// it with the function that closes it. Connecting fails fast when the
// broker is unreachable: a node that cannot reach its cluster should not
// start as a lone node.
func openBroker(spec string, logger *slog.Logger) (allspark.Broker, func() error, error) {
	scheme, _, _ := strings.Cut(spec, "://")
	switch strings.ToLower(scheme) {
	case "redis", "rediss", "redis-sentinel", "redis-cluster":
		o, err := redisbroker.ParseURL(spec)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: broker: %v", ErrConfig, err)
		}
		o.Logger = logger
		b, err := redisbroker.New(o)
		if err != nil {
			return nil, nil, fmt.Errorf("broker %s: %w", redactURL(spec), err)
		}
		return b, b.Close, nil
	case "nats", "tls":
		o, err := natsbroker.ParseURL(spec)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: broker: %v", ErrConfig, err)
		}
		o.Logger = logger
		b, err := natsbroker.New(o)
		if err != nil {
			return nil, nil, fmt.Errorf("broker %s: %w", redactURL(spec), err)
		}
		if hb := b.WithHistory(); hb != nil {
			// ?history=jetstream: room history and sessions in JetStream.
			return hb, b.Close, nil
		}
		return b, b.Close, nil
	}
	return nil, nil, fmt.Errorf("%w: broker: unknown broker %q", ErrConfig, redactURL(spec))
}
