#!/usr/bin/env bash
# run.sh: `make run`: the whole app on http://localhost:$PORT (8080) with a
# local Postgres and Redis whose data lives in .data/ and survives restarts.
# Runs in the foreground; Ctrl-C stops everything it started.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export DATA=${DATA:-$ROOT/.data}
export BIN=${BIN:-$ROOT/build/release/bin}
export PORT=${PORT:-8080} REDIS_PORT=${REDIS_PORT:-6380} PG_PORT=${PG_PORT:-5433}
export MODE=run
mkdir -p "$DATA"
if [ -z "${JWT_KEY:-}" ]; then
	[ -s "$DATA/jwt_key" ] || (umask 077 && head -c 48 /dev/urandom | base64 -w0 >"$DATA/jwt_key")
	JWT_KEY=$(cat "$DATA/jwt_key")
fi
export JWT_KEY

stop() {
	trap - INT TERM EXIT
	echo; echo "stopping..."
	"$ROOT/scripts/stack.sh" down
	exit 0
}
trap stop INT TERM EXIT
"$ROOT/scripts/stack.sh" up
echo
echo "  Ticketing is running:  http://localhost:$PORT"
echo "  REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
echo "  data and logs:         $DATA  (Ctrl-C stops everything)"
echo
while :; do sleep 3600 & wait $! || true; done
