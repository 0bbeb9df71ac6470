package app

import (
	"net/url"
	"strings"
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
