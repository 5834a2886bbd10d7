#!/usr/bin/env bash
# faults.sh: fault drills under a steady mixed load, each followed by the invariant checker.
#
#   scripts/faults.sh full      every drill (`make faults`), then the
#                               multi-host test (tests/faults/netns.sh)
#   scripts/faults.sh short     a few drills, shorter (`make test`, < 5 min)
#   scripts/faults.sh NAME...   only those drills
#
# Starts its own stack (scripts/stack.sh) on a throwaway directory and free
# loopback ports, durable (MODE=run: fsync and synchronous_commit on, so
# that a Postgres crash cannot lose an acknowledged order), with short
# windows (orders expire after 8 s, sweeper grace 3 s, ack wait 1 s), the
# Stripe client against tests/fakes/fake_stripe.mjs (so that charges can be
# counted at the provider), and FAILPOINT_DIR set: touching
# $FAILPOINT_DIR/NAME makes the next pass through TX_FAILPOINT(NAME) kill
# its process once (lib/core/failpoint.h); the supervise loop restarts it.
#
# Each drill runs tests/faults/load (browse, sell, buy, pay) for a while,
# applies its fault during the load, waits for the load to end, then runs
# tests/faults/check_invariants.sh, and prints
#   drill NAME: ok (requests: N, 5xx: M, invariants: 7/7)
# Requests may fail during a fault (502, 503, no answer): that is allowed;
# the invariants afterwards are not negotiable. Ends with "N passed, N
# failed"; exit status 1 if any drill failed. Every loop is bounded, every
# process started here is stopped by its PID (trap), Redis is always
# continued and Postgres always restarted.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
MODE_ARG=${1:-short}
export BIN=${BIN:-$ROOT/build/release/bin}
export DATA=$(mktemp -d /tmp/tixfault.XXXXXX)
export MODE=run THREADS=${THREADS:-4}
export JWT_KEY=$(head -c 48 /dev/urandom | base64 -w0)
export PASSWORD_COST=min AUTH_RATE_LIMIT=0
export EXPIRATION_WINDOW_SECONDS=8 EXPIRATION_GRACE_SECONDS=3 ACK_WAIT_MS=1000
export FAILPOINT_DIR=$DATA/failpoints
export PAYMENT_PROVIDER=stripe STRIPE_KEY=sk_test_fake STRIPE_TIMEOUT_MS=5000 PAYMENT_SETTLE_AFTER_MS=2000
mkdir -p "$FAILPOINT_DIR" "$DATA/log"

free_port() {
	local p i
	for i in $(seq 200); do
		p=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768+)
		(echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
	return 1
}
export PORT=$(free_port) REDIS_PORT=$(free_port) PG_PORT=$(free_port)
# A caller's stack (make test sources its env file) must not leak in: this
# stack has its own ports, run directory ($DATA/env's RUN_DIR) and Redis
# passwords.
unset RUN_DIR METRICS_DIR REDISCLI_AUTH
RUN=
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
if [ "$(id -u)" = 0 ]; then AS_PG="runuser -u postgres --"; else AS_PG=""; fi

case $MODE_ARG in
short) LOAD_S=10; STOP_S=6; KILL_S=10
	DRILLS="relay-kill consumer-kill payments-kill redis-kill fcgi-kill redis-stop" ;;
full) LOAD_S=25; STOP_S=30; KILL_S=20
	DRILLS="relay-kill consumer-kill scheduler-kill payments-kill redis-kill
		pg-immediate pg-fast fcgi-kill redis-stop nginx-reload pg-exhaust" ;;
*) LOAD_S=20; STOP_S=30; KILL_S=20; DRILLS="$*" ;;
esac

passed=0 failed=0 fake_pid= load_pid= holder_pid=
RESULTS=$DATA/results
RECORD=$DATA/records
: >"$RESULTS"; : >"$RECORD"

say() { echo "faults: $*"; }
alive() { [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
redis_pid() { cat "$RUN/redis.pid" 2>/dev/null; }
child_of() { ps -o pid= --ppid "$1" 2>/dev/null | head -1 | tr -d ' '; }

cleanup() {
	local p
	for p in $load_pid $holder_pid; do kill "$p" 2>/dev/null; done
	p=$(redis_pid); [ -n "$p" ] && kill -CONT "$p" 2>/dev/null
	scripts/stack.sh down >/dev/null 2>&1 || true
	[ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null
	if [ "$failed" -eq 0 ] && [ -z "${KEEP_TEST_DATA:-}" ]; then rm -rf "$DATA"
	else echo "fault data and logs kept in $DATA"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the stack ------------------------------------------------------------------
node tests/fakes/fake_stripe.mjs "$DATA/fake_stripe.port" >"$DATA/log/fake_stripe.log" 2>&1 &
fake_pid=$!
for _ in $(seq 100); do [ -s "$DATA/fake_stripe.port" ] && break; sleep 0.05; done
export FAKE_STRIPE_URL=http://127.0.0.1:$(cat "$DATA/fake_stripe.port" 2>/dev/null)
export STRIPE_API_BASE=$FAKE_STRIPE_URL
say "stack in $DATA (nginx :$PORT, redis :$REDIS_PORT, postgres :$PG_PORT)"
if ! scripts/stack.sh up >"$DATA/log/stack.log" 2>&1; then
	tail -n 20 "$DATA/log/stack.log"
	echo "0 passed, 1 failed"; failed=1; exit 1
fi
. "$DATA/env"
export TEST_BASE_URL=$BASE_URL DATABASE_URL REDIS_URL
RUN=$RUN_DIR

# ---- helpers for the faults ----------------------------------------------------------
# Arm a failpoint COUNT times, one at a time; each must fire within 20 s.
# Echoes how many fired.
fire() { # name count
	local n=0 i j
	for i in $(seq "$2"); do
		touch "$FAILPOINT_DIR/$1"
		for j in $(seq 200); do [ -e "$FAILPOINT_DIR/$1" ] || break; sleep 0.1; done
		[ -e "$FAILPOINT_DIR/$1" ] && break
		n=$((n + 1)); sleep 1.5
	done
	rm -f "$FAILPOINT_DIR/$1"
	echo "$n"
}
FAULT_NOTE=
need() { # what fired wanted
	FAULT_NOTE="$FAULT_NOTE$1 fired $2/$3; "
	[ "$2" -eq "$3" ]
}

# The stack's own Redis again: same AOF, users and passwords.
redis_start() { scripts/stack.sh redis-up >>"$DATA/log/stack.log" 2>&1; }
pg_opts="-k $DATA/pg -p $PG_PORT -c listen_addresses= -c max_connections=200"
pg_ctl() { $AS_PG "$PGBIN/pg_ctl" -D "$DATA/pg/data" -l "$DATA/pg/server.log" "$@" >/dev/null; }
pg_started() { head -1 "$DATA/pg/data/postmaster.pid" >"$RUN/postgres.pid"; }
pg_start() { pg_ctl -w -t 60 -o "$pg_opts" start && pg_started; }

f_relay_kill() {
	need relay_after_xadd "$(fire relay_after_xadd 3)" 3 &&
		need relay_before_xadd "$(fire relay_before_xadd 1)" 1
}
f_consumer_kill() {
	need consumer_after_commit "$(fire consumer_after_commit 3)" 3 &&
		need consumer_before_commit "$(fire consumer_before_commit 1)" 1
}
f_scheduler_kill() { sleep 3; need scheduler_after_move "$(fire scheduler_after_move 2)" 2; }
f_payments_kill() { need pay_after_provider "$(fire pay_after_provider 3)" 3; }
f_redis_kill() {
	local i
	for i in 1 2; do
		sleep 3
		kill -KILL "$(redis_pid)" || return 1
		sleep 1
		redis_start || return 1
	done
	FAULT_NOTE="redis killed 2x; "
}
f_pg_immediate() {
	sleep 3
	pg_ctl -m immediate stop || true
	sleep 3
	pg_start && FAULT_NOTE="postgres down 3 s (immediate); "
}
f_pg_fast() {
	sleep 3
	pg_ctl -w -t 60 -m fast restart && pg_started && FAULT_NOTE="postgres restarted (fast); "
}
f_fcgi_kill() {
	local n=0 i s c services=(tickets orders payments auth)
	for i in $(seq $((KILL_S / 2))); do
		s=${services[$((i % 4))]}
		c=$(child_of "$(cat "$RUN/$s.pid")")
		[ -n "$c" ] && kill -KILL "$c" 2>/dev/null && n=$((n + 1))
		sleep 2
	done
	FAULT_NOTE="$n FastCGI processes killed; "
	[ "$n" -gt 0 ]
}
f_redis_stop() {
	sleep 2
	local p; p=$(redis_pid)
	kill -STOP "$p" || return 1
	sleep "$STOP_S"
	kill -CONT "$p"
	FAULT_NOTE="redis stopped ${STOP_S} s; "
}
f_nginx_reload() {
	local i n=0
	for i in $(seq 10); do
		scripts/stack.sh nginx-reload >/dev/null 2>&1 && n=$((n + 1))
		sleep 1
	done
	FAULT_NOTE="nginx reloaded $n/10; "
	[ "$n" = 10 ]
}
f_pg_exhaust() {
	sleep 2
	"$BIN/pgholder" "host=$DATA/pg port=$PG_PORT dbname=ticketing user=auth" 400 8 \
		>"$DATA/log/pgholder.out" 2>&1 &
	holder_pid=$!
	sleep 2
	# a restarted program must now fail to connect, then recover
	local c; c=$(child_of "$(cat "$RUN/orders.pid")")
	[ -n "$c" ] && kill -KILL "$c"
	wait "$holder_pid"; local rc=$?; holder_pid=
	FAULT_NOTE="$(grep -o 'held [0-9]*' "$DATA/log/pgholder.out") connections; "
	return $rc
}

# ---- one drill ------------------------------------------------------------------------
drill() { # name
	local name=$1 fn=f_${1//-/_} frc lrc crc lline req fives trans inv
	FAULT_NOTE=
	echo "== drill $name"
	"$BIN/load" "$LOAD_S" 6 "$RECORD" "$name-$$" >"$DATA/log/load-$name.out" 2>&1 &
	load_pid=$!
	sleep 1
	$fn >>"$DATA/log/drill-$name.log" 2>&1; frc=$?
	wait "$load_pid"; lrc=$?; load_pid=
	lline=$(grep '^load:' "$DATA/log/load-$name.out" | tail -1)
	req=$(grep -o ' requests=[0-9]*' <<<"$lline" | cut -d= -f2)
	fives=$(grep -o ' 5xx=[0-9]*' <<<"$lline" | cut -d= -f2)
	trans=$(grep -o ' transport=[0-9]*' <<<"$lline" | cut -d= -f2)
	DRAIN_SECONDS=${DRAIN_SECONDS:-60} tests/faults/check_invariants.sh "$RECORD" \
		>"$DATA/log/check-$name.out" 2>&1; crc=$?
	sed 's/^/  /' "$DATA/log/check-$name.out"
	inv=$(grep -o '^invariants: [0-9]*/7' "$DATA/log/check-$name.out" | cut -d' ' -f2)
	local result="requests: ${req:-?}, 5xx: ${fives:-?}${trans:+, no answer: $trans}, invariants: ${inv:-0/7}"
	if [ "$frc" -eq 0 ] && [ "$lrc" -eq 0 ] && [ "$crc" -eq 0 ] && [ "${req:-0}" -gt 0 ]; then
		echo "drill $name: ok ($result)" | tee -a "$RESULTS"; passed=$((passed + 1))
	else
		echo "drill $name: FAILED ($result; ${FAULT_NOTE}fault rc=$frc load rc=$lrc)" | tee -a "$RESULTS"
		failed=$((failed + 1))
	fi
	[ -n "$FAULT_NOTE" ] && echo "  fault: $FAULT_NOTE"
	return 0
}

for d in $DRILLS; do
	if ! declare -F "f_${d//-/_}" >/dev/null; then
		echo "drill $d: FAILED (no such drill)" | tee -a "$RESULTS"; failed=$((failed + 1)); continue
	fi
	drill "$d"
done

if [ "$MODE_ARG" = full ]; then
	scripts/stack.sh down >/dev/null 2>&1
	echo "== multi-host (tests/faults/netns.sh)"
	if tests/faults/netns.sh >"$DATA/log/netns.out" 2>&1; then
		grep -E '^(netns|drill)' "$DATA/log/netns.out" | tee -a "$RESULTS"; passed=$((passed + 1))
	else
		tail -n 30 "$DATA/log/netns.out"
		echo "netns: FAILED" | tee -a "$RESULTS"; failed=$((failed + 1))
	fi
fi

echo; echo "== fault drills"; cat "$RESULTS"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
