#!/usr/bin/env bash
# run.sh: `make run`: the whole app on http://localhost:$PORT (8080) with a
# local Postgres and Redis whose data lives in .data/ and survives restarts
# (scripts/stack.sh: private to this user, see there).
#
# Runs in the foreground. Ctrl-C, SIGTERM and SIGHUP (its terminal closed)
# alike stop everything it started, by PID, and exit 0; nothing is left
# behind. One make run per data directory: while one runs, another says so
# and exits 1, touching nothing. A stack left running by a make run that
# died (kill -9) is stopped and started afresh. A start that fails stops
# what it started and exits 1 with the reason.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export DATA=${DATA:-$ROOT/.data}
export BIN=${BIN:-$ROOT/build/release/bin}
export PORT=${PORT:-8080} REDIS_PORT=${REDIS_PORT:-6380} PG_PORT=${PG_PORT:-5433}
export MODE=run
# The test provider (Stripe's test cards, no network) is for make run and
# the tests only: the programs themselves have no default.
export PAYMENT_PROVIDER=${PAYMENT_PROVIDER:-test}

say() { echo "make run: $*" 2>/dev/null || true; } # the terminal may be gone
(umask 077 && mkdir -p "$DATA")
[ -O "$DATA" ] || { say "$DATA belongs to another user: not using it"; exit 1; }

# The lock is held by this shell for its whole life (fd 9, closed in every
# process it starts, so that nothing outlives it holding it).
exec 9>>"$DATA/run.lock"
if ! flock -n 9; then
	say "this checkout's stack is already running ($(cat "$DATA/run.info" 2>/dev/null || echo "make run"))."
	say "Stop that one first (Ctrl-C in its terminal), or run another with DATA=... PORT=... REDIS_PORT=... PG_PORT=..."
	exit 1
fi
echo "pid $$, http://localhost:$PORT" >"$DATA/run.info"

if [ -z "${JWT_KEY:-}" ]; then
	[ -s "$DATA/jwt_key" ] || (umask 077 && head -c 48 /dev/urandom | base64 -w0 >"$DATA/jwt_key")
	JWT_KEY=$(cat "$DATA/jwt_key")
fi
export JWT_KEY

sleeper=
stop() { # exit status
	trap '' INT TERM HUP PIPE # a second Ctrl-C must not cut the stop short
	[ -z "$sleeper" ] || kill "$sleeper" 2>/dev/null
	say "stopping..."
	# Output to a file: a closed terminal must not stop the stop.
	"$ROOT/scripts/stack.sh" down 9>&- >>"$DATA/log/run.log" 2>&1 ||
		say "stopping failed; see $DATA/log/run.log"
	rm -f "$DATA/run.info"
	say "stopped"
	exit "$1"
}
trap 'stop 0' INT TERM HUP

mkdir -p "$DATA/log"
left=$("$ROOT/scripts/stack.sh" status 9>&- 2>/dev/null)
if [ -n "$left" ]; then
	say "an earlier make run of $DATA died and left its stack running ($(echo $left)); stopping it and starting afresh"
	"$ROOT/scripts/stack.sh" down 9>&- >>"$DATA/log/run.log" 2>&1
fi
if ! "$ROOT/scripts/stack.sh" up 9>&-; then
	say "the app did not start (the reason is above; logs in $DATA/log)"
	trap - INT TERM HUP
	rm -f "$DATA/run.info"
	exit 1
fi
cat <<EOF 2>/dev/null

  Ticketing is running:  http://localhost:$PORT
  Redis:                 127.0.0.1:$REDIS_PORT (REDIS_URL, REDISCLI_AUTH: $DATA/env)
  data and logs:         $DATA  (Ctrl-C stops everything)

EOF
while :; do
	sleep infinity 9>&- &
	sleeper=$!
	wait "$sleeper"
done
