// Package app assembles the allspark binary: configuration (flags,
// ALLSPARK_* environment variables, an optional JSON file), structured
// logging, the real-time server, the chat demo at /, the HTTP publish API
// under /api/, Prometheus metrics, health checks and graceful shutdown.
//
// cmd/allspark is a thin main around Run (serve) and Client (`allspark
// client`: write the client library and exit); tests drive New, Run and
// Client directly.
//
// # Routes
//
//	/                     chat demo (Config.Demo)
//	<pathname>            the allspark.Server (upgrades, /spec, /primus.js)
//	/api/                 HTTP API, bearer token (Config.APIToken); see api.go
//	/metrics              Prometheus text format
//	/healthz, /readyz     liveness; readiness (503 once shutdown begins)
package app
