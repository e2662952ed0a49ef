#!/usr/bin/env bash
# Measures callgate with `callgate bench` and with wrk, side by side. Each tool
# gets its own freshly started server in the same state (a new data dir, the
# dev app, 1,000 bench users with a token each), so neither inherits the
# other's database; one bare net/http baseline answers a body of GET /me's
# size for wrk. SQLite by default, PostgreSQL with DB=postgres://… (each
# server then needs an empty database: DB and DB2).
#   BIN=./callgate DUR=10s docs/bench/compare.sh
set -euo pipefail
BIN=${BIN:-./callgate}
DUR=${DUR:-10s}
HERE=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
S=127.0.0.1:18480 B=127.0.0.1:18490

# start NAME DB: a fresh server on $S; sets APP AUTH REST and PID.
start() {
	local args=(serve --dev --data "$tmp/$1" --addr $S --rate-limit off --log-level warn)
	[ -n "$2" ] && args+=(--db "$2")
	"$BIN" "${args[@]}" >"$tmp/$1.log" 2>&1 &
	PID=$!
	until curl -sf "http://$S/readyz" >/dev/null; do sleep 0.1; done
	local c=$tmp/$1/dev-credentials.json
	APP=$(jq -r .appId "$c") AUTH=$(jq -r .authKey "$c") REST=$(jq -r .restApiKey "$c")
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; }

echo "== callgate bench (creates bench-user-0…999 with a token each)"
start one "${DB:-}"
"$BIN" bench --target "http://$S" --app "$APP" --auth-key "$AUTH" --rest-key "$REST" --pid "$PID" \
	--duration "$DUR" --scenarios baseline,login,session,me
stop

start two "${DB2:-${DB:-}}"
# The same 1,000 users and tokens (a one-second `me` run creates them).
"$BIN" bench --target "http://$S" --app "$APP" --auth-key "$AUTH" --rest-key "$REST" \
	--scenarios me --duration 1s --rounds 1 --warmup 0s >/dev/null
TOKEN=$(curl -s -X POST "http://$S/v3/users/bench-user-0/auth_tokens" -H "appId: $APP" -H "apiKey: $REST" | jq -r .data.authToken)
SIZE=$(curl -s "http://$S/v3/me" -H "appId: $APP" -H "authToken: $TOKEN" | wc -c)
"$BIN" bench-baseline --addr $B --size "$SIZE" &
until curl -sf "http://$B/" >/dev/null; do sleep 0.1; done

run() { printf '%-9s' "$1"; shift; wrk -t2 -c64 -d"$DUR" --latency "$@" | awk '/Requests\/sec/ {rps=$2} / 50%/ {p50=$2} / 99%/ {p99=$2} /Non-2xx/ {bad=$NF} END {printf "%10.0f req/s  p50 %s  p99 %s%s\n", rps, p50, p99, bad ? "  NON-2xx " bad : ""}'; }
echo "== wrk -t2 -c64 -d$DUR (a second fresh server)"
run baseline "http://$B/"
run login -s "$HERE/login.lua" -H "appId: $APP" -H "apiKey: $AUTH" "http://$S/v3/users/bench-user-0/auth_tokens"
run session -s "$HERE/put-me.lua" -H "appId: $APP" -H "authToken: $TOKEN" "http://$S/v3.0/me"
run me -H "appId: $APP" -H "authToken: $TOKEN" "http://$S/v3/me"
