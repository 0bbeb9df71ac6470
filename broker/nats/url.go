package nats

import (
	"crypto/tls"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ParseURL reads the allspark binary's --broker value for NATS into Options:
//
//	nats://[user:pass@]host[:port][,host2[:port]…][?query]
//	tls://…                          the same, over TLS (system roots)
//	nats://token@host:4222           a user without a password is a token
//
// The port defaults to 4222. Several hosts, separated by commas, are
// servers of one NATS cluster the client fails over between. User, password
// and token are percent-decoded. The query may hold:
//
//	prefix=allspark      Options.Prefix
//	probe=5s             Options.ProbeInterval ("off" or 0 turns it off)
//	write_timeout=1s     Options.WriteTimeout
//	name=allspark        Options.Name
//	creds=/path/x.creds  Options.CredsFile
//	history=jetstream    Options.History (room history and sessions)
//	storage=file|memory  Options.HistoryStorage
//
// Any other key, a path, a fragment or a malformed host is an error
// wrapping ErrBadURL, so a typo does not silently fall back to a default.
func ParseURL(raw string) (Options, error) {
	var o Options
	bad := func(format string, args ...any) (Options, error) {
		return Options{}, fmt.Errorf("%w %q: %s", ErrBadURL, redact(raw), fmt.Sprintf(format, args...))
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return bad("want nats://host:port or tls://host:port")
	}
	switch strings.ToLower(scheme) {
	case "nats":
	case "tls":
		o.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	default:
		return bad("unknown scheme %q (want nats or tls)", scheme)
	}
	scheme = strings.ToLower(scheme)
	if strings.ContainsRune(rest, '#') {
		return bad("a fragment (#) is not allowed")
	}
	rest, query, _ := strings.Cut(rest, "?")
	authority, path, _ := strings.Cut(rest, "/")
	if path != "" {
		return bad("a path (/%s) is not allowed", path)
	}
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		user, pass, hasPass := strings.Cut(authority[:at], ":")
		authority = authority[at+1:]
		var err error
		if user, err = url.PathUnescape(user); err != nil {
			return bad("bad escape in user")
		}
		if pass, err = url.PathUnescape(pass); err != nil {
			return bad("bad escape in password")
		}
		switch {
		case user == "" && !hasPass:
			return bad("empty user before @")
		case hasPass:
			o.Username, o.Password = user, pass
		default:
			o.Token = user
		}
	}
	if authority == "" {
		return bad("no host")
	}
	for h := range strings.SplitSeq(authority, ",") {
		hostport, err := checkHost(h)
		if err != nil {
			return bad("%v", err)
		}
		o.Servers = append(o.Servers, scheme+"://"+hostport)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return bad("bad query: %v", err)
	}
	for key, vals := range q {
		v := vals[len(vals)-1]
		switch key {
		case "prefix":
			if err := checkPrefix(v); err != nil {
				return bad("%v", err)
			}
			o.Prefix = v
		case "probe":
			if v == "off" || v == "0" {
				o.ProbeInterval = -1
				continue
			}
			d, err := positiveDuration(v)
			if err != nil {
				return bad("probe: %v", err)
			}
			o.ProbeInterval = d
		case "write_timeout":
			d, err := positiveDuration(v)
			if err != nil {
				return bad("write_timeout: %v", err)
			}
			o.WriteTimeout = d
		case "name":
			o.Name = v
		case "creds":
			if v == "" {
				return bad("creds: empty path")
			}
			o.CredsFile = v
		case "history":
			switch v {
			case "jetstream":
				o.History = true
			case "off", "":
			default:
				return bad("history: %q (want jetstream or off)", v)
			}
		case "storage":
			switch v {
			case "file":
				o.HistoryStorage = FileStorage
			case "memory":
				o.HistoryStorage = MemoryStorage
			default:
				return bad("storage: %q (want file or memory)", v)
			}
		default:
			return bad("unknown parameter %q (known: prefix, probe, write_timeout, name, creds, history, storage)", key)
		}
	}
	if o.CredsFile != "" && (o.Username != "" || o.Token != "") {
		return bad("creds and user/token are exclusive")
	}
	return o, nil
}

// checkHost validates one host[:port] of the URL and adds the default port.
func checkHost(h string) (string, error) {
	if h == "" {
		return "", fmt.Errorf("empty host in list")
	}
	u, err := url.Parse("nats://" + h)
	if err != nil || u.Host != h || u.User != nil || u.Hostname() == "" {
		return "", fmt.Errorf("bad host %q", h)
	}
	port := u.Port()
	if port == "" {
		if strings.HasSuffix(h, ":") {
			return "", fmt.Errorf("empty port in %q", h)
		}
		if strings.Contains(u.Hostname(), ":") { // IPv6 literal
			return "[" + u.Hostname() + "]:4222", nil
		}
		return h + ":4222", nil
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("bad port %q", port)
	}
	return h, nil
}

func positiveDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, err
	}
	if d <= 0 {
		return 0, fmt.Errorf("%s is not positive", v)
	}
	return d, nil
}

// redact hides the password or token of a URL in error messages.
func redact(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	at := strings.LastIndexByte(rest, '@')
	if q := strings.IndexByte(rest, '?'); at < 0 || (q >= 0 && at > q) {
		return raw
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if hasPass {
		return scheme + "://" + user + ":***" + rest[at:]
	}
	return scheme + "://***" + rest[at:]
}
