#!/usr/bin/env bash
# Measures Go WebSocket engines for Allspark: idle memory per connection and
# connect rate, echo throughput/latency and server CPU per message, plus a
# behaviour check (echo, ping->pong, invalid UTF-8 handling).
#
# usage: bench/engines/run.sh [rounds]
#   env: N=10000 (idle conns)  C=100 (echo conns)  DUR=10s (echo time)
#        ONLY="gws coder"      (run only variants whose label starts with one of these)
#        PORT_BASE=19400       (server ports used: PORT_BASE.. upward, 127.0.0.1 only)
#
# Prints one key=value line per result; a copy goes to results/latest.txt.
# Each (variant, mode) gets a fresh server process; every process has a time
# limit (server -maxlife, client -deadline), so everything stops by itself.
set -euo pipefail
cd "$(dirname "$0")"

ROUNDS=${1:-1}
N=${N:-10000}
C=${C:-100}
DUR=${DUR:-10s}
ONLY=${ONLY:-}
PORT_BASE=${PORT_BASE:-19400}

mkdir -p bin results
go build -o bin/ ./cmd/wsserver ./cmd/wsload

# label|engine|server flags
VARIANTS=(
	"gws|gws|"
	"gws-rbuf1k|gws|-rbuf 1024"
	"gws-rbuf512|gws|-rbuf 512"
	"coder|coder|"
	"nbio-std|nbio-std|"
	"nbio-std-rbuf1k|nbio-std|-rbuf 1024"
	"nbio-std-poller|nbio-std-poller|"
	"nbio-native|nbio-native|"
	"gobwas|gobwas|"
)
# idle only, client offers permessage-deflate
DEFLATE_VARIANTS=(
	"gws+deflate-nocontext|gws|-deflate nocontext"
	"gws+deflate-context|gws|-deflate context"
	"coder+deflate-context|coder|-deflate context"
	"nbio-std-poller+deflate|nbio-std-poller|-deflate nocontext"
)

OUT=results/latest.txt
: >"$OUT"
emit() { echo "$*" | tee -a "$OUT"; }

port=$PORT_BASE
srv_pid=""
cleanup() {
	if [[ -n "$srv_pid" ]] && kill -0 "$srv_pid" 2>/dev/null; then
		kill "$srv_pid" 2>/dev/null || true
		wait "$srv_pid" 2>/dev/null || true
	fi
	srv_pid=""
}
trap cleanup EXIT INT TERM

# start_server ENGINE FLAGS... : sets srv_pid and srv_addr, returns 1 if not ready
start_server() {
	local engine=$1
	shift
	port=$((port + 1))
	srv_addr="127.0.0.1:$port"
	local log=results/server-$port.log
	./bin/wsserver -engine "$engine" -addr "$srv_addr" -maxlife 90s "$@" >"$log" 2>&1 &
	srv_pid=$!
	for _ in $(seq 1 50); do
		if grep -q '^ready' "$log" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	emit "error: server $engine did not become ready on $srv_addr: $(head -c 300 "$log")"
	cleanup
	return 1
}

wanted() {
	[[ -z "$ONLY" ]] && return 0
	local w
	for w in $ONLY; do [[ "$1" == "$w"* ]] && return 0; done
	return 1
}

load1() { cut -d' ' -f1 /proc/loadavg; }

emit "# machine: $(nproc) cores, $(uname -sr), $(go version | cut -d' ' -f3-4), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), mem $(free -g | awk '/^Mem:/{print $2}') GiB, nofile $(ulimit -n)"
emit "# engines: $(go list -m -f '{{.Path}}@{{.Version}}' github.com/lxzan/gws github.com/coder/websocket github.com/lesismal/nbio github.com/gobwas/ws | tr '\n' ' ')"
emit "# started $(date -u +%FT%TZ) N=$N C=$C DUR=$DUR rounds=$ROUNDS"

for round in $(seq 1 "$ROUNDS"); do
	for v in "${VARIANTS[@]}"; do
		IFS='|' read -r label engine flags <<<"$v"
		wanted "$label" || continue
		# shellcheck disable=SC2086
		if start_server "$engine" $flags; then
			line=$(./bin/wsload -mode idle -n "$N" -addr "$srv_addr" -pid "$srv_pid" -label "$label" -deadline 80s || true)
			emit "$line round=$round load1=$(load1)"
			cleanup
		fi
		# shellcheck disable=SC2086
		if start_server "$engine" $flags; then
			line=$(./bin/wsload -mode echo -c "$C" -dur "$DUR" -addr "$srv_addr" -pid "$srv_pid" -label "$label" -deadline 80s || true)
			emit "$line round=$round load1=$(load1)"
			if [[ $round == 1 ]]; then
				emit "$(./bin/wsload -mode check -addr "$srv_addr" -pid "$srv_pid" -label "$label" -deadline 20s || true)"
			fi
			cleanup
		fi
	done
	for v in "${DEFLATE_VARIANTS[@]}"; do
		IFS='|' read -r label engine flags <<<"$v"
		wanted "$label" || continue
		# shellcheck disable=SC2086
		if start_server "$engine" $flags; then
			line=$(./bin/wsload -mode idle -deflate -n "$N" -addr "$srv_addr" -pid "$srv_pid" -label "$label" -deadline 80s || true)
			emit "$line round=$round load1=$(load1)"
			cleanup
		fi
	done
done
rm -f results/server-*.log
emit "# finished $(date -u +%FT%TZ)"
