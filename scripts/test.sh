#!/usr/bin/env bash
# Runs every test of the project: lint, Go unit/integration tests with the
# race detector (fuzz seed corpora included), short fuzzing, the Node
# conformance suite that drives the server with the stock Primus client, and
# the typed JS client's tests (Node, and headless Chromium), the chat demo end
# to end in headless Chromium (with ALLSPARK_SCREENSHOT=1 it also refreshes
# docs/demo.png; otherwise its screenshot goes to a temporary directory), and the benchmark
# harness (its tests and a short run against every server under test).
# README.md names this script as the test command, and .ci/run runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s\n' "$*"; }

# apt_install waits for a busy package manager (unattended-upgrades, another
# apt run) instead of aborting: DPkg::Lock::Timeout makes apt-get wait up to
# 5 minutes for the dpkg lock; the package lists lock of apt-get update is not
# covered by that option on every apt version, so update is retried.
apt_install() {
  local apt=(apt-get -o DPkg::Lock::Timeout=300)
  local i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    "${apt[@]}" update -qq && break
    [ "$i" = 10 ] && return 1
    echo "apt-get update failed (lock busy?); retrying in 30 s"
    sleep 30
  done
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq "$@"
}

step "npm ci (primus, ws, playwright-core for the Node-side tests)"
# A node_modules that is a symlink (a worktree sharing another checkout's) is
# left alone: npm ci would empty the directory it points to before replacing
# the link.
if [ -L node_modules ]; then
  echo "node_modules is a symlink ($(readlink node_modules)): npm ci skipped"
elif [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

step "chromium (Debian package) for the browser end-to-end tests"
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt_install chromium
  else
    echo "install Debian's chromium package (sudo apt-get install chromium)"; exit 1
  fi
fi

step "TypeScript type check of the JS client and the demo page (tsc --noEmit, strict)"
npx --no-install tsc -p js/tsconfig.json
npx --no-install tsc -p internal/app/demo/tsconfig.json

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted"; exit 1; fi

step "go vet"
go vet ./...

step "staticcheck"
go tool staticcheck ./...

step "go test -race (unit, integration, leak, fuzz seeds)"
go test -race -count=1 -timeout 15m ./...

step "stress under -race, 3 more runs (Shutdown racing joins, writes, acks, ends and vanishing clients)"
go test -race -count=3 -run '^TestShutdownUnderConcurrentLoad$' .

# Budgets are execution counts, not durations: with a duration, Go 1.26's
# fuzz coordinator can fail a target with a bare "context deadline exceeded"
# when a worker is mid-call at the deadline (golang/go#75804, fixed in 1.27);
# a count has no deadline to race. 20,000 runs take 2-5 s per target here.
step "fuzzing, 20,000 executions per target"
for target in "FuzzIncomingMessage ." "FuzzForwardEnvelope ." "FuzzPresenceMessage ." "FuzzJSONDecode ./parser" "FuzzMsgPackDecode ./parser" "FuzzParse ./internal/primus" "FuzzIsPongJSON ./internal/primus" "FuzzParse ./internal/events" "FuzzGateScanner ./internal/transport/websocket" "FuzzFrameReader ./internal/transport/websocket" "FuzzHeadEnd ./internal/transport/directupgrade" "FuzzListenerHead ./internal/transport/directupgrade" "FuzzDecodePacket ./internal/eio" "FuzzDecodePayload ./internal/eio" "FuzzServeSend ./internal/eio" "FuzzDecode ./internal/sio" "FuzzConn ./internal/sio" "FuzzFrameEvent ./internal/sio" "FuzzFrameAck ./internal/sio" "FuzzDecode ./internal/sockjs" "FuzzEventRoundTrip ./internal/sse" "FuzzLastEventID ./internal/sse" "FuzzFrame ./internal/sse" "FuzzParse ./internal/emitter" "FuzzFrame ./internal/emitter" "FuzzUnmarshalPublication ." "FuzzNodeMessage ." "FuzzDecode ./broker/internal/envelope" "FuzzParseSince ." "FuzzParseVector ." "FuzzDecodeStamped ./broker/redis" "FuzzHistoryMessage ./broker/nats" "FuzzRecoverEnvelope ./client"; do
  set -- $target
  go test -run '^$' -fuzz "^$1\$" -fuzztime 20000x "$2"
done

# Every *.test.mjs of test/conformance/ runs here, socketio-recovery.test.mjs
# included (the stock socket.io-client's connection state recovery, ~35 s; its
# Redis scenarios use 127.0.0.1:6379 and skip while broker/redis keeps no
# history). test/e2e/recovery.test.mjs (the demo across node restarts, ~20-40 s)
# uses the same Redis, under a key prefix of its own run, and starts
# redis-server there when nothing answers.
step "Node: conformance with the stock Primus client, the typed JS client, the demo end to end (node --test)"
node --test --test-reporter=tap test/conformance/ js/test/ test/e2e/

# The conformance files other than eio.test.mjs (which has its own server switch).
primus_conformance=(test/conformance/{basic,events,http,lifecycle,messages}.test.mjs)

step "Node: the conformance suites against the reference servers (stock Primus 8 per transformer mode, npm engine.io 6.6.11, a plain Node SSE server), ~3 s each"
EIO_SERVER=reference node --test --test-reporter=tap test/conformance/eio.test.mjs
# The Socket.IO suite against npm socket.io 4.8.4 (+ primus for the shared
# rooms), ~20 s; the step above ran it against Allspark (siofixture).
SIO_SERVER=reference node --test --test-reporter=tap test/conformance/socketio.test.mjs
SSE_SERVER=reference node --test --test-reporter=tap test/conformance/sse.test.mjs
for mode in "websockets true" "engine.io false" "engine.io true" "sockjs true" "sockjs false"; do
  set -- $mode
  PRIMUS_SERVER=reference PRIMUS_TRANSFORMER=$1 PRIMUS_WEBSOCKETS=$2 node --test --test-reporter=tap "${primus_conformance[@]}"
done
# The sockjs-client suite against npm sockjs 0.3.24, ~10 s; the step above
# ran it against cmd/allspark --echo.
SOCKJS_SERVER=reference node --test --test-reporter=tap test/conformance/sockjs.test.mjs
# The primus-emitter suite against stock Primus + primus-emitter, and the
# Feathers suite against Feathers v4 (Primus) and v5 (Socket.IO) in Node,
# ~4 s together; the step above ran both against Allspark (pluginfixture).
EMITTER_SERVER=reference node --test --test-reporter=tap test/conformance/emitter.test.mjs
FEATHERS_SERVER=reference node --test --test-reporter=tap test/conformance/feathers.test.mjs

step "Node: conformance on the engine.io transformer against Allspark (polling only, then with upgrade), and eio.test.mjs strict"
EIO_STRICT=1 node --test --test-reporter=tap test/conformance/eio.test.mjs
for websockets in false true; do
  PRIMUS_TRANSFORMER=engine.io PRIMUS_WEBSOCKETS=$websockets node --test --test-reporter=tap "${primus_conformance[@]}"
done

step "Node: conformance on the sockjs transformer against Allspark (sockjs-client's websocket, then xhr-streaming), ~40 s"
for websockets in true false; do
  PRIMUS_TRANSFORMER=sockjs PRIMUS_WEBSOCKETS=$websockets node --test --test-reporter=tap "${primus_conformance[@]}"
done

# forward.test.mjs ran above with the nodes on the MemoryBroker's node list;
# again with heartbeat membership, as on Redis and NATS, ~8 s.
step "Node: HTTP fallbacks without sticky sessions (engine.io-client, socket.io-client, sockjs-client on polling behind an alternating proxy), heartbeat membership"
FORWARD_HEARTBEATS=1 node --test --test-reporter=tap test/conformance/forward.test.mjs

# The same JS HTTP-fallback tests against the reference wire: a stock Node
# Primus server with the engine.io transformer (js/test/eio.mjs). The step
# above runs them against ours (ALLSPARK_JS_SERVER=ours, the default).
step "Node: the JS client's HTTP fallback against the reference engine.io Primus server"
ALLSPARK_JS_SERVER=reference node --test --test-reporter=tap js/test/polling.test.mjs test/e2e/fallback.test.mjs

step "bench harness (its own module, bench/harness): vet, staticcheck, go test -race"
(cd bench/harness && go vet ./... && go tool staticcheck ./... && go test -race -count=1 ./...)

step "bench harness short run: every server under test, small N (fails only if a server cannot start or delivers nothing)"
(cd bench/harness && go run ./cmd/bench --short)
