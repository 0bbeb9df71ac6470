package redis

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ParseURL reads the allspark binary's --broker value into Options (the
// rest keep their defaults). The forms are listed in the package doc. Every
// error wraps ErrBadURL and names what is wrong.
func ParseURL(raw string) (Options, error) {
	var o Options
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return o, badURL(raw, "missing scheme (want redis://, rediss://, redis-sentinel:// or redis-cluster://)")
	}
	defaultPort := "6379"
	switch strings.ToLower(scheme) {
	case "redis":
	case "rediss":
		o.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	case "redis-sentinel":
		defaultPort = "26379"
	case "redis-cluster":
		o.Cluster = true
	default:
		return o, badURL(raw, fmt.Sprintf("unknown scheme %q", scheme))
	}
	rest, query, _ := strings.Cut(rest, "?")
	authority, path, _ := strings.Cut(rest, "/")
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		if err := o.parseUserinfo(authority[:i]); err != nil {
			return o, badURL(raw, err.Error())
		}
		authority = authority[i+1:]
	}
	if authority == "" {
		return o, badURL(raw, "no host")
	}
	for h := range strings.SplitSeq(authority, ",") {
		addr, err := hostPort(h, defaultPort)
		if err != nil {
			return o, badURL(raw, err.Error())
		}
		o.Addrs = append(o.Addrs, addr)
	}
	if len(o.Addrs) > 1 && !o.Cluster && scheme != "redis-sentinel" {
		return o, badURL(raw, "several hosts need redis-sentinel:// or redis-cluster://")
	}
	if o.TLS != nil {
		host, _, _ := net.SplitHostPort(o.Addrs[0])
		o.TLS.ServerName = host
	}
	segs := splitPath(path)
	if scheme == "redis-sentinel" {
		if len(segs) == 0 {
			return o, badURL(raw, "redis-sentinel:// needs the master name as the path (/mymaster)")
		}
		o.SentinelMaster, segs = segs[0], segs[1:]
	}
	switch {
	case len(segs) > 1:
		return o, badURL(raw, fmt.Sprintf("unexpected path %q", path))
	case len(segs) == 1 && o.Cluster:
		return o, badURL(raw, "Redis Cluster has no databases: drop the /db")
	case len(segs) == 1:
		db, err := strconv.Atoi(segs[0])
		if err != nil || db < 0 {
			return o, badURL(raw, fmt.Sprintf("database %q is not a non-negative number", segs[0]))
		}
		o.DB = db
	}
	if err := o.parseQuery(query); err != nil {
		return o, badURL(raw, err.Error())
	}
	return o, nil
}

func badURL(raw, why string) error {
	return fmt.Errorf("%w %q: %s", ErrBadURL, redact(raw), why)
}

// redact hides the password in error messages.
func redact(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	auth, tail, hasTail := strings.Cut(rest, "/")
	i := strings.LastIndexByte(auth, '@')
	if i < 0 {
		return raw
	}
	auth = "xxxxx" + auth[i:]
	if hasTail {
		return scheme + "://" + auth + "/" + tail
	}
	return scheme + "://" + auth
}

// parseUserinfo reads "user:pass", ":pass" or "pass" (a password alone, as
// in the Sentinel form), percent-decoded.
func (o *Options) parseUserinfo(ui string) error {
	user, pass, hasColon := strings.Cut(ui, ":")
	if !hasColon {
		user, pass = "", ui
	}
	var err error
	if o.Username, err = url.PathUnescape(user); err != nil {
		return fmt.Errorf("bad user name escape: %v", err)
	}
	if o.Password, err = url.PathUnescape(pass); err != nil {
		return fmt.Errorf("bad password escape")
	}
	return nil
}

func hostPort(h, defaultPort string) (string, error) {
	if h == "" {
		return "", fmt.Errorf("empty host in list")
	}
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		// No port: a bare name or a bracketed IPv6 address.
		if strings.Contains(strings.Trim(h, "[]"), ":") && !strings.HasPrefix(h, "[") {
			return "", fmt.Errorf("host %q: %v", h, err)
		}
		host, port = strings.Trim(h, "[]"), defaultPort
	}
	if host == "" {
		return "", fmt.Errorf("host %q has no name", h)
	}
	if strings.ContainsAny(host, " /\\?#@") {
		return "", fmt.Errorf("host %q has invalid characters", h)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("port %q of %q is not in 1-65535", port, h)
	}
	return net.JoinHostPort(host, port), nil
}

func splitPath(p string) []string {
	var out []string
	for s := range strings.SplitSeq(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (o *Options) parseQuery(q string) error {
	vals, err := url.ParseQuery(q)
	if err != nil {
		return fmt.Errorf("bad query: %v", err)
	}
	for k, v := range vals {
		if len(v) != 1 {
			return fmt.Errorf("parameter %q given %d times", k, len(v))
		}
		val := v[0]
		switch k {
		case "prefix":
			if val == "" {
				return fmt.Errorf("empty prefix")
			}
			o.Prefix = val
		case "probe", "write_timeout":
			d, err := time.ParseDuration(val)
			if err != nil || d <= 0 {
				return fmt.Errorf("%s=%q is not a positive duration (like 5s)", k, val)
			}
			if k == "probe" {
				o.ProbeInterval = d
			} else {
				o.WriteTimeout = d
			}
		case "queue":
			n, err := strconv.Atoi(val)
			if err != nil || n <= 0 {
				return fmt.Errorf("queue=%q is not a positive number", val)
			}
			o.InboundQueue = n
		default:
			return fmt.Errorf("unknown parameter %q (known: prefix, probe, write_timeout, queue)", k)
		}
	}
	return nil
}
