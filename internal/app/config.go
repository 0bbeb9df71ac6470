package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/allspark/allspark"
)

// Config is the binary's configuration. Every field is one setting with a
// flag (--addr), an environment variable (ALLSPARK_ADDR) and a config file
// key ("addr"); Load fills it with the precedence flag > environment > file
// > default. The zero value works: New fills empty strings with the defaults
// below, but a zero PingInterval means no heartbeats, a false Demo no demo,
// a false Recovery no sessions and an empty History no room history, as the
// same values given on the command line would.
type Config struct {
	Addr           string        // listen address
	Pathname       string        // the real-time endpoint's path prefix
	PingInterval   time.Duration // 0 turns heartbeats off
	Echo           bool          // echo / bench mode, see echo.go
	Parser         string        // "json" or "msgpack"
	MaxLength      int           // largest message in bytes; 0 = allspark.DefaultMaxLength
	Compression    bool          // negotiate permessage-deflate
	TrustedProxies string        // comma-separated IPs/CIDRs
	Origins        string        // comma-separated origins allowed to open WebSockets besides the server's own
	Broker         string        // "memory", or a redis://, rediss://, redis-sentinel://, redis-cluster://, nats:// or tls:// URL (broker.go)
	NodeID         string        // this node's name in the cluster; "" = random per start
	// brokerOverride, when set by a test, is used instead of Broker.
	brokerOverride  allspark.Broker
	Demo            bool          // serve the chat demo at /
	APIToken        string        // bearer token for /api/*; empty disables the API
	APIMaxBody      int64         // largest /api request body in bytes
	LogLevel        string        // debug, info, warn, error
	LogFormat       string        // text or json
	ShutdownTimeout time.Duration // graceful shutdown limit
	// Engine.IO wire (long-polling, WebSocket, upgrade) at the pathname.
	EIO             bool          // serve it
	EIOTransports   string        // comma-separated: polling, websocket
	EIOPingInterval time.Duration // between Engine.IO pings
	EIOPingTimeout  time.Duration // for the pong
	EIOMaxPayload   int           // largest POST body, bytes
	EIOCookie       string        // session cookie name; empty: none
	// Server-Sent Events wire at <pathname>/<SSEPath>.
	SSE               bool          // serve it
	SSEPath           string        // below the pathname
	SSEHeartbeat      time.Duration // between comment heartbeats; 0: none
	SSERetry          time.Duration // the retry field; 0: not sent
	SSEMaxSubscribers int           // live streams; 0: allspark's default
	// Socket.IO v5 wire (stock socket.io-client 4.x) at its own path.
	SocketIO     bool   // serve it
	SocketIOPath string // the client's "path" option
	// SockJS wire under the pathname (Primus's sockjs transformer) and at
	// SockJSPath (plain sockjs-client).
	SockJS                bool          // serve it
	SockJSPath            string        // the plain path
	SockJSHeartbeat       time.Duration // between "h" frames
	SockJSDisconnectDelay time.Duration // a session without a receiving request ends after this
	SockJSResponseLimit   int           // bytes per streaming response
	SockJSJSessionID      bool          // JSESSIONID cookie for sticky load balancers
	SockJSWebSocket       bool          // offer the websocket transport
	SockJSMaxSessions     int           // per path
	// Room history and recovery (docs/recovery.md).
	History          string        // rules PATTERN=SIZE/TTL[/METATTL], comma-separated (history_flag.go)
	Recovery         bool          // sessions: a reconnecting client gets its spark back
	RecoveryWindow   time.Duration // how long a session outlives its connection; 0 = allspark's default
	MaxReplay        int           // most messages one reconnect replays; 0 = allspark's default
	SocketIORecovery bool          // Socket.IO connection state recovery
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		Addr:            ":8080",
		Pathname:        allspark.DefaultPathname,
		PingInterval:    allspark.DefaultPingInterval,
		Parser:          "json",
		MaxLength:       allspark.DefaultMaxLength,
		Broker:          "memory",
		Demo:            true,
		APIMaxBody:      1 << 20,
		LogLevel:        "info",
		LogFormat:       "text",
		ShutdownTimeout: 10 * time.Second,
		EIO:             true,
		EIOTransports:   "polling,websocket",
		EIOPingInterval: 25 * time.Second,
		EIOPingTimeout:  20 * time.Second,
		SSE:             true,
		SSEPath:         allspark.DefaultSSEPath,
		SSEHeartbeat:    25 * time.Second,
		SSERetry:        2 * time.Second,
		SocketIO:        true,
		SocketIOPath:    allspark.DefaultSocketIOPath,

		SockJS:                true,
		SockJSPath:            allspark.DefaultSockJSPath,
		SockJSHeartbeat:       25 * time.Second,
		SockJSDisconnectDelay: 5 * time.Second,
		SockJSResponseLimit:   128 << 10,
		SockJSWebSocket:       true,
		SockJSMaxSessions:     100_000,

		History:        DemoHistory, // only while the demo is on: see load
		Recovery:       true,
		RecoveryWindow: allspark.DefaultRecoveryWindow,
		MaxReplay:      allspark.DefaultMaxReplay,
	}
}

// EnvPrefix starts every environment variable Load reads.
const EnvPrefix = "ALLSPARK_"

// ErrConfig marks a configuration error (bad flag, variable, file or value).
var ErrConfig = errors.New("config")

// setting ties one Config field to its flag, variable and file key.
type setting struct {
	name   string // flag name and file key
	usage  string
	secret bool // masked when the configuration is printed
	// redact, when set, rewrites the value for printing (a URL's password)
	redact func(string) string
	bind   func(fs *flag.FlagSet, c *Config, name, usage string)
	// reset, when set, clears the field before a source sets it: a list
	// flag appends its repeats, but a later source replaces an earlier one.
	reset func(c *Config)
}

func (s setting) env() string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(s.name, "-", "_"))
}

// settings is the single list --help, the environment, the file and the
// printed configuration are derived from, so they cannot drift apart.
var settings = []setting{
	{name: "addr", usage: "listen address (host:port)", bind: func(fs *flag.FlagSet, c *Config, n, u string) { fs.StringVar(&c.Addr, n, c.Addr, u) }},
	{name: "pathname", usage: "path prefix of the real-time endpoint (the client library is at <pathname>/primus.js)", bind: func(fs *flag.FlagSet, c *Config, n, u string) { fs.StringVar(&c.Pathname, n, c.Pathname, u) }},
	{name: "ping-interval", usage: "interval between server pings; 0 turns heartbeats off", bind: func(fs *flag.FlagSet, c *Config, n, u string) { fs.DurationVar(&c.PingInterval, n, c.PingInterval, u) }},
	{name: "echo", usage: "echo/bench mode: write every data message back to its sender; a connection with ?room=NAME joins NAME, and {\"publish\":\"NAME\",\"data\":X} is written to room NAME instead of echoed; the demo is off unless --demo is given", bind: func(fs *flag.FlagSet, c *Config, n, u string) { fs.BoolVar(&c.Echo, n, c.Echo, u) }},
	{name: "parser", usage: "message parser: json or msgpack (with msgpack the demo is off: its browser client speaks JSON)", bind: func(fs *flag.FlagSet, c *Config, n, u string) { fs.StringVar(&c.Parser, n, c.Parser, u) }},
	{name: "max-length", usage: "largest message in bytes, in and out", bind: func(fs *flag.FlagSet, c *Config, n, u string) { fs.IntVar(&c.MaxLength, n, c.MaxLength, u) }},
	{name: "compression", usage: "negotiate permessage-deflate", bind: func(fs *flag.FlagSet, c *Config, n, u string) { fs.BoolVar(&c.Compression, n, c.Compression, u) }},
	{name: "trusted-proxies", usage: "comma-separated IPs/CIDRs whose X-Forwarded-For is believed", bind: func(fs *flag.FlagSet, c *Config, n, u string) {
		fs.StringVar(&c.TrustedProxies, n, c.TrustedProxies, u)
	}},
	{name: "origins", usage: "comma-separated origins, besides the server's own, whose pages may open WebSocket connections (e.g. https://app.example.com,https://*.example.com; * allows any site, which lets every page use your users' cookies). Upgrades from other origins get 403", bind: func(fs *flag.FlagSet, c *Config, n, u string) {
		fs.StringVar(&c.Origins, n, c.Origins, u)
	}},
	{name: "eio", usage: "serve the Engine.IO v4 wire at the pathname (<pathname>/?EIO=4&transport=polling|websocket): HTTP long-polling, WebSocket and the upgrade between them, as Primus's engine.io transformer and the JS client's fallback speak it", bind: func(fs *flag.FlagSet, c *Config, n, u string) { fs.BoolVar(&c.EIO, n, c.EIO, u) }},
	{name: "eio-transports", usage: "comma-separated Engine.IO transports allowed: polling, websocket", bind: func(fs *flag.FlagSet, c *Config, n, u string) { fs.StringVar(&c.EIOTransports, n, c.EIOTransports, u) }},
	{name: "eio-ping-interval", usage: "interval between Engine.IO pings", bind: func(fs *flag.FlagSet, c *Config, n, u string) {
		fs.DurationVar(&c.EIOPingInterval, n, c.EIOPingInterval, u)
	}},
	{name: "eio-ping-timeout", usage: "how long an Engine.IO pong may take before the session ends (a vanished client is reaped within interval + timeout)", bind: func(fs *flag.FlagSet, c *Config, n, u string) {
		fs.DurationVar(&c.EIOPingTimeout, n, c.EIOPingTimeout, u)
	}},
	{name: "eio-max-payload", usage: "largest Engine.IO POST body in bytes (larger: 413), announced to clients as maxPayload; 0 = max-length", bind: func(fs *flag.FlagSet, c *Config, n, u string) { fs.IntVar(&c.EIOMaxPayload, n, c.EIOMaxPayload, u) }},
	{name: "socketio", usage: "serve the Socket.IO v5 wire (stock socket.io-client 4.x) at --socketio-path, over Engine.IO polling, WebSocket and the upgrade; its Engine.IO settings are the --eio-* ones", bind: func(fs *flag.FlagSet, c *Config, n, u string) { fs.BoolVar(&c.SocketIO, n, c.SocketIO, u) }},
	{name: "socketio-path", usage: "path Socket.IO clients connect to (their \"path\" option)", bind: func(fs *flag.FlagSet, c *Config, n, u string) { fs.StringVar(&c.SocketIOPath, n, c.SocketIOPath, u) }},
	{name: "eio-cookie", usage: "name of a cookie set on the Engine.IO handshake with the session id, for load balancers that route by cookie (polling needs sticky sessions); empty: none", bind: func(fs *flag.FlagSet, c *Config, n, u string) { fs.StringVar(&c.EIOCookie, n, c.EIOCookie, u) }},
	{name: "sockjs", usage: "serve SockJS: under the pathname for the stock Primus client's sockjs transformer (<pathname>/info, <pathname>/<server>/<session>/<transport>), and at --sockjs-path for plain sockjs-client users", bind: func(fs *flag.FlagSet, c *Config, n, u string) { fs.BoolVar(&c.SockJS, n, c.SockJS, u) }},
	{name: "sockjs-path", usage: "base path of the plain SockJS endpoint (sockjs-client connects to http://host<path>); must not be or contain the pathname", bind: func(fs *flag.FlagSet, c *Config, n, u string) { fs.StringVar(&c.SockJSPath, n, c.SockJSPath, u) }},
	{name: "sockjs-heartbeat", usage: "interval between SockJS heartbeat frames (h)", bind: func(fs *flag.FlagSet, c *Config, n, u string) {
		fs.DurationVar(&c.SockJSHeartbeat, n, c.SockJSHeartbeat, u)
	}},
	{name: "sockjs-disconnect-delay", usage: "how long a SockJS session lives without a receiving request before it ends", bind: func(fs *flag.FlagSet, c *Config, n, u string) {
		fs.DurationVar(&c.SockJSDisconnectDelay, n, c.SockJSDisconnectDelay, u)
	}},
	{name: "sockjs-response-limit", usage: "bytes after which a SockJS streaming response (xhr_streaming, eventsource, htmlfile) ends so the client opens the next", bind: func(fs *flag.FlagSet, c *Config, n, u string) {
		fs.IntVar(&c.SockJSResponseLimit, n, c.SockJSResponseLimit, u)
	}},
	{name: "sockjs-jsessionid", usage: "set a JSESSIONID cookie on SockJS session requests, for load balancers that route by it (every transport but websocket needs sticky sessions)", bind: func(fs *flag.FlagSet, c *Config, n, u string) {
		fs.BoolVar(&c.SockJSJSessionID, n, c.SockJSJSessionID, u)
	}},
	{name: "sockjs-websocket", usage: "offer SockJS clients the websocket transport (false: HTTP transports only)", bind: func(fs *flag.FlagSet, c *Config, n, u string) {
		fs.BoolVar(&c.SockJSWebSocket, n, c.SockJSWebSocket, u)
	}},
	{name: "sockjs-max-sessions", usage: "live SockJS sessions allowed on each path (past it: 503)", bind: func(fs *flag.FlagSet, c *Config, n, u string) {
		fs.IntVar(&c.SockJSMaxSessions, n, c.SockJSMaxSessions, u)
	}},
	{name: "sse", usage: "serve Server-Sent Events at <pathname>/<sse-path> (GET /primus/sse?rooms=a,b): a browser's plain EventSource subscribes to rooms and receives their messages and events", bind: func(fs *flag.FlagSet, c *Config, n, u string) { fs.BoolVar(&c.SSE, n, c.SSE, u) }},
	{name: "sse-path", usage: "path of the event stream below the pathname", bind: func(fs *flag.FlagSet, c *Config, n, u string) { fs.StringVar(&c.SSEPath, n, c.SSEPath, u) }},
	{name: "sse-heartbeat", usage: "interval between comment heartbeats on an event stream (keeps proxies from closing idle streams); 0: none", bind: func(fs *flag.FlagSet, c *Config, n, u string) {
		fs.DurationVar(&c.SSEHeartbeat, n, c.SSEHeartbeat, u)
	}},
	{name: "sse-retry", usage: "the retry field of an event stream: how long a client waits before reconnecting after the stream ends; 0: not sent", bind: func(fs *flag.FlagSet, c *Config, n, u string) { fs.DurationVar(&c.SSERetry, n, c.SSERetry, u) }},
	{name: "sse-max-subscribers", usage: "most event streams open at once (past it: 503); 0: 100000", bind: func(fs *flag.FlagSet, c *Config, n, u string) {
		fs.IntVar(&c.SSEMaxSubscribers, n, c.SSEMaxSubscribers, u)
	}},
	{name: "history", usage: "rooms that keep their last messages, so a reconnecting client is replayed what it missed: rules PATTERN=SIZE/TTL[/METATTL] (path.Match pattern over room names; the first match wins; METATTL, how long a room's position outlives its last write, defaults to 30 days), comma-separated or repeated, e.g. chat:*=1000/10m. Without it, history is " + DemoHistory + " while the demo is on (its rooms) and none otherwise; an empty value keeps none. A room with history must be published to alone (POST /api/publish: one room, no sparks)",
		reset: func(c *Config) { c.History = "" },
		bind:  func(fs *flag.FlagSet, c *Config, n, u string) { fs.Var(listValue{&c.History, checkHistory}, n, u) }},
	{name: "recovery", usage: "sessions: a client of ours (or Socket.IO with --socketio-recovery, or EventSource) that reconnects within --recovery-window gets its spark back (id, rooms, user) and the messages of its history rooms it missed; --recovery=false: every connection is a new spark", bind: func(fs *flag.FlagSet, c *Config, n, u string) { fs.BoolVar(&c.Recovery, n, c.Recovery, u) }},
	{name: "recovery-window", usage: "how long a session outlives its connection", bind: func(fs *flag.FlagSet, c *Config, n, u string) {
		fs.DurationVar(&c.RecoveryWindow, n, c.RecoveryWindow, u)
	}},
	{name: "max-replay", usage: "most messages one reconnect replays, all rooms together; a client that missed more is told recovered: false (reason limit) and reloads", bind: func(fs *flag.FlagSet, c *Config, n, u string) { fs.IntVar(&c.MaxReplay, n, c.MaxReplay, u) }},
	{name: "socketio-recovery", usage: "Socket.IO connection state recovery for the stock client (>= 4.6): socket.recovered, and every event without an ack gets an offset as its last argument", bind: func(fs *flag.FlagSet, c *Config, n, u string) {
		fs.BoolVar(&c.SocketIORecovery, n, c.SocketIORecovery, u)
	}},
	{name: "broker", redact: redactURL, usage: "cross-node broker: memory (one process), redis://[user:pass@]host:6379[/db][?prefix=p] (also rediss://, redis-sentinel://h1,h2/master, redis-cluster://h1,h2) or nats://host:4222[,host2][?prefix=p] (also tls://); every node of a cluster uses the same broker URL, prefix and parser", bind: func(fs *flag.FlagSet, c *Config, n, u string) { fs.StringVar(&c.Broker, n, c.Broker, u) }},
	{name: "node-id", usage: "this node's name in the cluster (logs, /api/rooms/{name}, metrics); empty: random per start", bind: func(fs *flag.FlagSet, c *Config, n, u string) { fs.StringVar(&c.NodeID, n, c.NodeID, u) }},
	{name: "demo", usage: "serve the chat demo at / (--demo=false turns it off; off by default with --echo)", bind: func(fs *flag.FlagSet, c *Config, n, u string) { fs.BoolVar(&c.Demo, n, c.Demo, u) }},
	{name: "api-token", secret: true, usage: "bearer token for the HTTP API under /api/; empty disables the API (403). Prefer the environment variable: flags show in ps", bind: func(fs *flag.FlagSet, c *Config, n, u string) { fs.StringVar(&c.APIToken, n, c.APIToken, u) }},
	{name: "api-max-body", usage: "largest /api request body in bytes (larger: 413)", bind: func(fs *flag.FlagSet, c *Config, n, u string) { fs.Int64Var(&c.APIMaxBody, n, c.APIMaxBody, u) }},
	{name: "log-level", usage: "debug, info, warn or error", bind: func(fs *flag.FlagSet, c *Config, n, u string) { fs.StringVar(&c.LogLevel, n, c.LogLevel, u) }},
	{name: "log-format", usage: "text or json (log/slog handlers, on stderr)", bind: func(fs *flag.FlagSet, c *Config, n, u string) { fs.StringVar(&c.LogFormat, n, c.LogFormat, u) }},
	{name: "shutdown-timeout", usage: "on SIGINT/SIGTERM, how long clients get to be told to reconnect before connections are cut (0: no limit)", bind: func(fs *flag.FlagSet, c *Config, n, u string) {
		fs.DurationVar(&c.ShutdownTimeout, n, c.ShutdownTimeout, u)
	}},
}

// configFlag names the optional config file; it is a flag and a variable
// but not a file key.
const configFlag = "config"

// newFlagSet binds every setting to c, whose current values become the
// defaults --help shows.
func newFlagSet(c *Config, configPath *string) *flag.FlagSet {
	fs := flag.NewFlagSet("allspark", flag.ContinueOnError)
	for _, s := range settings {
		s.bind(fs, c, s.name, s.usage)
	}
	fs.StringVar(configPath, configFlag, "", "optional JSON config file; keys are the flag names")
	return fs
}

// Load builds the configuration from args (without the program name), the
// environment seen through getenv (nil means os.Getenv) and, when --config
// or ALLSPARK_CONFIG names one, a JSON file. Precedence: flag > environment
// > file > default. --help writes the usage to stderr and returns
// flag.ErrHelp; every other problem returns an error wrapping ErrConfig that
// names the flag, variable or key at fault.
func Load(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	return load(args, getenv, stderr, writeUsage, nil)
}

// load is Load for a command with its own usage text and, through extra,
// flags of its own (such as the client command's --out). Extra flags are
// command-line only: they have no variable and no file key.
func load(args []string, getenv func(string) string, stderr io.Writer, usage func(io.Writer), extra func(*flag.FlagSet)) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	// Pass 1: the command line alone, to learn which flags were given and
	// where the file is.
	var flags Config = Default()
	var path string
	fs := newFlagSet(&flags, &path)
	for _, s := range settings {
		if s.reset != nil {
			s.reset(&flags) // a list flag's first repeat replaces its default
		}
	}
	if extra != nil {
		extra(fs)
	}
	// Errors are returned, not printed with the whole usage: one clear line.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stderr)
			return Config{}, err
		}
		return Config{}, fmt.Errorf("%w: %v (see --help)", ErrConfig, err)
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("%w: unexpected argument %q", ErrConfig, fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if !given[configFlag] {
		path = getenv(EnvPrefix + "CONFIG")
	}

	// Pass 2: defaults, then file, then environment, then the given flags,
	// each parsed by the same flag.Value so every source accepts the same
	// syntax.
	c := Default()
	var ignored string
	apply := newFlagSet(&c, &ignored)
	apply.SetOutput(io.Discard)
	if path != "" {
		if err := applyFile(apply, path, &c); err != nil {
			return Config{}, err
		}
	}
	for _, s := range settings {
		if v, ok := lookupEnv(getenv, s.env()); ok {
			if s.reset != nil {
				s.reset(&c)
			}
			if err := apply.Set(s.name, v); err != nil {
				return Config{}, fmt.Errorf("%w: %s=%q: %v", ErrConfig, s.env(), v, explain(apply, s.name, err))
			}
		}
	}
	for _, s := range settings {
		if given[s.name] {
			if s.reset != nil {
				s.reset(&c)
			}
			if err := apply.Set(s.name, fs.Lookup(s.name).Value.String()); err != nil {
				return Config{}, fmt.Errorf("%w: --%s: %v", ErrConfig, s.name, err)
			}
		}
	}
	// --echo is a test and benchmark mode: the demo (its hooks and its
	// page at /) stays off unless some source turned it on explicitly.
	demoSet := false
	apply.Visit(func(f *flag.Flag) { demoSet = demoSet || f.Name == "demo" })
	if c.Echo && !demoSet {
		c.Demo = false
	}
	// The default history is the demo's: without the demo (off, or off for
	// msgpack, which its page does not speak), no room keeps history
	// unless some source named rules.
	historySet := false
	apply.Visit(func(f *flag.Flag) { historySet = historySet || f.Name == "history" })
	if (!c.Demo || c.Parser == "msgpack") && !historySet {
		c.History = ""
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// explain adds the expected kind of value to a flag parse error.
func explain(fs *flag.FlagSet, name string, err error) error {
	f := fs.Lookup(name)
	if f == nil {
		return err
	}
	typ, _ := flag.UnquoteUsage(f)
	switch typ {
	case "value": // a setting of its own syntax, whose error says what it wants
		return err
	case "":
		typ = "boolean (true or false)"
	case "duration":
		typ = "duration such as 30s or 1m"
	}
	return fmt.Errorf("%w (want a %s)", err, typ)
}

// lookupEnv treats an empty variable as unset, as shells make unsetting
// awkward in service files.
func lookupEnv(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

// applyFile reads a JSON object whose keys are flag names. Values may be
// strings, numbers or booleans; durations are strings such as "30s".
// Unknown keys are errors, so a typo does not silently keep a default.
func applyFile(fs *flag.FlagSet, path string, c *Config) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: file: %v", ErrConfig, err)
	}
	var kv map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&kv); err != nil {
		return fmt.Errorf("%w: file %s: %v", ErrConfig, path, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: file %s: data after the JSON object", ErrConfig, path)
	}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		i := slices.IndexFunc(settings, func(s setting) bool { return s.name == k })
		if k == configFlag || i < 0 {
			return fmt.Errorf("%w: file %s: unknown key %q", ErrConfig, path, k)
		}
		if reset := settings[i].reset; reset != nil {
			reset(c)
		}
		v, err := scalar(kv[k])
		if err != nil {
			return fmt.Errorf("%w: file %s: key %q: %v", ErrConfig, path, k, err)
		}
		if err := fs.Set(k, v); err != nil {
			return fmt.Errorf("%w: file %s: key %q: %v", ErrConfig, path, k, explain(fs, k, err))
		}
	}
	return nil
}

// scalar turns a JSON string, number or boolean into the text a flag parses.
func scalar(raw json.RawMessage) (string, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case bool:
		if v {
			return "true", nil
		}
		return "false", nil
	default:
		return "", fmt.Errorf("want a string, number or boolean, got %s", raw)
	}
}

// Validate reports values that parse but make no sense.
func (c Config) Validate() error {
	bad := func(name, format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrConfig, name, fmt.Sprintf(format, a...))
	}
	if c.Parser != "" && c.Parser != "json" && c.Parser != "msgpack" {
		return bad("parser", "unknown parser %q (want json or msgpack)", c.Parser)
	}
	if c.Broker != "" && !knownBroker(c.Broker) {
		return bad("broker", "unknown broker %q (want memory, or a redis://, rediss://, redis-sentinel://, redis-cluster://, nats:// or tls:// URL)", redactURL(c.Broker))
	}
	if c.LogFormat != "" && c.LogFormat != "text" && c.LogFormat != "json" {
		return bad("log-format", "want text or json, got %q", c.LogFormat)
	}
	if c.LogLevel != "" {
		var l slog.Level
		if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
			return bad("log-level", "want debug, info, warn or error, got %q", c.LogLevel)
		}
	}
	if c.PingInterval < 0 {
		return bad("ping-interval", "negative")
	}
	if c.MaxLength < 0 {
		return bad("max-length", "negative")
	}
	if c.APIMaxBody < 0 {
		return bad("api-max-body", "negative")
	}
	if c.SockJSHeartbeat < 0 || c.SockJSDisconnectDelay < 0 || c.SockJSResponseLimit < 0 || c.SockJSMaxSessions < 0 {
		return bad("sockjs", "negative heartbeat, disconnect delay, response limit or session limit")
	}
	if c.ShutdownTimeout < 0 {
		return bad("shutdown-timeout", "negative")
	}
	if c.SSEHeartbeat < 0 || c.SSERetry < 0 || c.SSEMaxSubscribers < 0 {
		return bad("sse-heartbeat, sse-retry, sse-max-subscribers", "negative")
	}
	if _, err := parseHistory(c.History); err != nil {
		return bad("history", "%v", err)
	}
	if c.RecoveryWindow < 0 {
		return bad("recovery-window", "negative")
	}
	if c.MaxReplay < 0 {
		return bad("max-replay", "negative")
	}
	for _, o := range c.origins() {
		if o != "*" && !strings.Contains(o, "://") {
			return bad("origins", "%q is not an origin (want scheme://host[:port], such as https://%s, or *)", o, o)
		}
	}
	return nil
}

// origins is Origins as a list, blanks dropped.
func (c Config) origins() []string {
	var out []string
	for o := range strings.SplitSeq(c.Origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// withDefaults fills the empty strings and sizes the zero Config leaves.
func (c Config) withDefaults() Config {
	d := Default()
	if c.Addr == "" {
		c.Addr = d.Addr
	}
	if c.Pathname == "" {
		c.Pathname = d.Pathname
	}
	if c.Parser == "" {
		c.Parser = d.Parser
	}
	if c.MaxLength == 0 {
		c.MaxLength = d.MaxLength
	}
	if c.Broker == "" {
		c.Broker = d.Broker
	}
	if c.APIMaxBody == 0 {
		c.APIMaxBody = d.APIMaxBody
	}
	if c.LogLevel == "" {
		c.LogLevel = d.LogLevel
	}
	if c.LogFormat == "" {
		c.LogFormat = d.LogFormat
	}
	return c
}

// Masked is what a secret is printed as.
const Masked = "********"

// LogValue prints every setting under its flag name, secrets masked, so the
// effective configuration can be logged at start.
func (c Config) LogValue() slog.Value {
	var path string
	fs := newFlagSet(&c, &path)
	attrs := make([]slog.Attr, 0, len(settings))
	for _, s := range settings {
		v := fs.Lookup(s.name).Value.String()
		if s.secret && v != "" {
			v = Masked
		}
		if s.redact != nil {
			v = s.redact(v)
		}
		attrs = append(attrs, slog.String(s.name, v))
	}
	return slog.GroupValue(attrs...)
}

// writeUsage is --help: every setting with its variable and default, the
// file format, and what the server serves.
func writeUsage(w io.Writer) {
	var path string
	d := Default()
	fs := newFlagSet(&d, &path)
	var b strings.Builder
	b.WriteString(`Usage: allspark [flags]
       allspark client [flags] [--out FILE]   (see allspark client --help)

Serves the Allspark real-time server (Primus protocol), the chat demo, an HTTP
publish API, Prometheus metrics and health checks on one address. The client
command writes the client library this server would serve, and exits.

Every flag has an environment variable and a config file key.
Precedence: flag > environment > config file > default.

Flags:
`)
	for _, s := range settings {
		f := fs.Lookup(s.name)
		typ, _ := flag.UnquoteUsage(f)
		fmt.Fprintf(&b, "  --%s\n", strings.TrimSpace(s.name+" "+typ))
		fmt.Fprintf(&b, "        %s\n", s.usage)
		def := f.DefValue
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(&b, "        env %s, default %s\n", s.env(), def)
	}
	fmt.Fprintf(&b, "  --%s path\n        %s\n        env %sCONFIG\n", configFlag, fs.Lookup(configFlag).Usage, EnvPrefix)
	b.WriteString(`
Config file: one JSON object, keys are flag names, e.g.
  {"addr": ":9000", "ping-interval": "15s", "compression": true, "api-token": "s3cret"}
Unknown keys are errors.

Endpoints:
  /                      chat demo (--demo)
  <pathname>             WebSocket endpoint; <pathname>/primus.js is the client library
  POST /api/publish      {"rooms":[..],"sparks":[..],"all":true,"except":[..],"event":"name","data":X}
                         without "event" the data is written as a plain message
  GET  /api/rooms        rooms with their member counts
  GET  /api/rooms/{name} a room's members
  GET  /api/rooms/{name}/history?after=N&limit=M
                         a room's stored messages after offset N (at most M, 1 to 1000,
                         default 100) and its position; 404 without history (--history)
  DELETE /api/sparks/{id} disconnect a spark (its client does not reconnect)
                         /api/* needs "Authorization: Bearer <api-token>"
  /metrics               Prometheus metrics
  /healthz, /readyz      liveness; readiness (503 while shutting down)

Signals: SIGINT/SIGTERM shut down gracefully; clients are told to reconnect.
`)
	_, _ = io.WriteString(w, b.String())
}
