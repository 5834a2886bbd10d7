#!/usr/bin/env bash
# stack.sh up|down|nginx-reload: start or stop the whole app from one data
# directory: a Postgres cluster, Redis, the FastCGI programs (each under a
# small restart loop) and nginx. Every process is stopped by the PID it
# recorded, never by name.
#
# Environment (scripts/run.sh and scripts/test.sh set these):
#   DATA        data directory (Postgres cluster, Redis AOF, logs, sockets)
#   BIN         directory of the built programs
#   PORT        nginx port;  REDIS_PORT, PG_PORT: ports of the data servers
#   MODE        run (durable: fsync, synchronous_commit) or test (fast)
#   THREADS     FastCGI threads per program (default 8)
#   OPS_THREADS threads of the ops program (default 2: health checks,
#               /metrics scrapes and the operators' pages are few)
#   WORKER_ARGS options for the worker (worker.c), e.g. "--consumers 4"
#   OPS_ALLOW   addresses (nginx allow syntax, space-separated) that may
#               reach /ops and /metrics (default "127.0.0.1 ::1")
# Writes $DATA/env: the variables a client of this stack needs.
set -euo pipefail
cmd=${1:?usage: stack.sh up|down|nginx-reload}
: "${DATA:?}" "${BIN:?}" "${PORT:?}" "${REDIS_PORT:?}" "${PG_PORT:?}"
MODE=${MODE:-run}
THREADS=${THREADS:-8}
OPS_THREADS=${OPS_THREADS:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# Sockets, pid files, nginx's config and a copy of static/ live in a short
# directory that nginx's workers (www-data when we are root) can always
# reach, whatever the permissions above the checkout: unix socket paths are
# limited to 107 bytes, and /root is 0700.
RUN=${RUN_DIR:-/tmp/tix-$(id -u)-$PORT}
SERVICES="auth tickets orders payments ops"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

if [ "$(id -u)" = 0 ]; then AS_PG="runuser -u postgres --"; NGINX_USER="user www-data;"; GROUP=www-data
else AS_PG=""; NGINX_USER=""; GROUP=""; fi

say() { echo "stack: $*"; }
gone() { [ ! -e "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
wait_for() { # what, test command...
	local what=$1 i=0; shift
	until "$@" >/dev/null 2>&1; do
		sleep 0.05; i=$((i + 1))
		[ $i -lt 400 ] || { say "$what did not come up; see $DATA/log"; return 1; }
	done
}
stop_pid() { # name pidfile signal
	[ -s "$2" ] || return 0
	local p i=0; p=$(cat "$2")
	kill "-$3" "$p" 2>/dev/null || true
	while ! gone "$p" && [ $i -lt 300 ]; do sleep 0.05; i=$((i + 1)); done
	gone "$p" || { say "$1 ($p) ignored SIG$3; killing"; kill -KILL "$p" 2>/dev/null || true; }
	rm -f "$2"
}

# ---- Postgres -------------------------------------------------------------
pg_up() {
	mkdir -p "$DATA/pg"
	if [ -n "$AS_PG" ] && ! runuser -u postgres -- test -x "$DATA"; then
		say "the postgres user cannot reach $DATA (Postgres refuses to run as root);"
		say "choose a data directory under a world-searchable path: DATA=/srv/tix make run"
		return 1
	fi
	[ -n "$AS_PG" ] && chown postgres:postgres "$DATA/pg"
	if [ ! -s "$DATA/pg/data/PG_VERSION" ]; then
		$AS_PG "$PGBIN/initdb" -D "$DATA/pg/data" -U postgres -A trust -E UTF8 \
			--locale=C.UTF-8 >"$DATA/log/initdb.log" 2>&1
	fi
	local opts="-k $DATA/pg -p $PG_PORT -c listen_addresses= -c max_connections=200"
	[ "$MODE" = test ] && opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	$AS_PG "$PGBIN/pg_ctl" -D "$DATA/pg/data" -l "$DATA/pg/server.log" -w -t 60 \
		-o "$opts" start >/dev/null
	head -1 "$DATA/pg/data/postmaster.pid" >"$RUN/postgres.pid"
	local su="host=$DATA/pg port=$PG_PORT user=postgres"
	psql "$su dbname=postgres" -Xqtc "SELECT 1 FROM pg_database WHERE datname='ticketing'" |
		grep -q 1 || psql "$su dbname=postgres" -Xqc "CREATE DATABASE ticketing" >/dev/null
	"$ROOT/scripts/migrate.sh" "$su dbname=ticketing"
}

# ---- Redis ----------------------------------------------------------------
redis_up() {
	mkdir -p "$DATA/redis"
	redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$DATA/redis" \
		--appendonly yes --appendfsync always --save '' --daemonize yes \
		--pidfile "$RUN/redis.pid" --logfile "$DATA/log/redis.log" >/dev/null
	wait_for redis redis-cli -p "$REDIS_PORT" ping
}

# ---- the FastCGI programs, each in a restart loop --------------------------
supervise() { # name command...
	local name=$1; shift
	(
		trap 'kill -TERM $child 2>/dev/null; wait $child; exit 0' TERM INT
		while :; do
			"$@" &
			child=$!
			wait $child && exit 0
			echo "supervisor: $name exited ($?), restarting"
			sleep 0.5
		done
	) </dev/null >>"$DATA/log/$name.log" 2>&1 &
	echo $! >"$RUN/$name.pid"
}

services_up() {
	local s n
	for s in $SERVICES; do
		[ -x "$BIN/$s" ] || continue
		n=$THREADS
		[ "$s" = ops ] && n=$OPS_THREADS
		supervise "$s" "$BIN/$s" --socket "$RUN/$s.sock" --threads "$n" \
			${GROUP:+--socket-group "$GROUP"}
	done
	for s in $SERVICES; do
		[ -x "$BIN/$s" ] || continue
		wait_for "$s" test -S "$RUN/$s.sock"
	done
	# The event runtime (outbox relays, consumer groups), if built.
	# shellcheck disable=SC2086 # WORKER_ARGS is a list of options
	if [ -x "$BIN/worker" ]; then supervise worker "$BIN/worker" ${WORKER_ARGS:-}; fi
}

# ---- nginx ------------------------------------------------------------------
nginx_conf() {
	mkdir -p "$RUN/nginx"
	local rate=${AUTH_RATE_LIMIT:-10}
	if [ "$rate" -gt 0 ]; then
		echo "limit_req_zone \$binary_remote_addr zone=auth:1m rate=${rate}r/s;" >"$RUN/nginx/limit-zone.conf"
		echo "limit_req zone=auth burst=$((rate * 5)) nodelay;" >"$RUN/nginx/limit.conf"
	else
		: >"$RUN/nginx/limit-zone.conf"; : >"$RUN/nginx/limit.conf"
	fi
	local a
	: >"$RUN/nginx/ops-allow.conf"
	for a in ${OPS_ALLOW:-127.0.0.1 ::1}; do echo "allow $a;" >>"$RUN/nginx/ops-allow.conf"; done
	echo "deny all;" >>"$RUN/nginx/ops-allow.conf"
	rm -rf "$RUN/static" && cp -R "$ROOT/static" "$RUN/static" && chmod -R a+rX "$RUN/static"
	sed -e "s|@RUN@|$RUN|g" "$ROOT/nginx/fastcgi.conf.in" >"$RUN/nginx/fastcgi.conf"
	# Stripe Elements (the checkout page with a publishable key) loads
	# Stripe.js, which frames js.stripe.com and calls api.stripe.com.
	local csp_script="" csp_more=""
	if [ "${PAYMENT_PROVIDER:-test}" = stripe ] && [ -n "${STRIPE_PUBLISHABLE_KEY:-}" ]; then
		csp_script=" https://js.stripe.com"
		csp_more="; frame-src https://js.stripe.com https://hooks.stripe.com; connect-src 'self' https://api.stripe.com"
	fi
	sed -e "s|@RUN@|$RUN|g" -e "s|@ROOT@|$ROOT|g" -e "s|@PORT@|$PORT|g" -e "s|@LOG@|$DATA/log|g" \
		-e "s|@MAX_BODY@|${MAX_BODY_BYTES:-102400}|g" -e "s|@USER_LINE@|$NGINX_USER|" \
		-e "s|@CSP_STRIPE_SCRIPT@|$csp_script|" -e "s|@CSP_STRIPE_MORE@|$csp_more|" \
		"$ROOT/nginx/nginx.conf.in" >"$RUN/nginx/nginx.conf"
}

nginx_up() {
	nginx_conf
	nginx -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" -e "$DATA/log/nginx-error.log"
	wait_for nginx test -s "$RUN/nginx.pid"
}

write_env() {
	local pg="host=$DATA/pg port=$PG_PORT dbname=ticketing"
	cat >"$DATA/env" <<ENV
export BASE_URL=http://127.0.0.1:$PORT
export DATABASE_URL="$pg user=postgres"
export REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
# What the programs themselves get (to start another worker by hand):
export AUTH_DATABASE_URL="$pg user=auth"
export TICKETS_DATABASE_URL="$pg user=tickets"
export ORDERS_DATABASE_URL="$pg user=orders"
export PAYMENTS_DATABASE_URL="$pg user=payments"
export OPS_DATABASE_URL="$pg user=ops"
export METRICS_DIR=$RUN/metrics
export TEMPLATE_DIR="$ROOT/templates"
export RUN_DIR=$RUN
ENV
}

case $cmd in
up)
	mkdir -p "$DATA/log" "$RUN"
	chmod 0755 "$DATA" "$RUN"
	rm -f "$RUN"/*.sock
	export AUTH_DATABASE_URL="host=$DATA/pg port=$PG_PORT dbname=ticketing user=auth"
	export TICKETS_DATABASE_URL="host=$DATA/pg port=$PG_PORT dbname=ticketing user=tickets"
	export ORDERS_DATABASE_URL="host=$DATA/pg port=$PG_PORT dbname=ticketing user=orders"
	export PAYMENTS_DATABASE_URL="host=$DATA/pg port=$PG_PORT dbname=ticketing user=payments"
	export OPS_DATABASE_URL="host=$DATA/pg port=$PG_PORT dbname=ticketing user=ops"
	export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
	export TEMPLATE_DIR="$ROOT/templates"
	# Request counters of every program, shared by its processes (ops reads).
	export METRICS_DIR="$RUN/metrics"
	mkdir -p "$METRICS_DIR"
	pg_up
	redis_up
	services_up
	nginx_up
	write_env
	;;
down)
	stop_pid nginx "$RUN/nginx.pid" QUIT
	stop_pid worker "$RUN/worker.pid" TERM
	for s in $SERVICES; do stop_pid "$s" "$RUN/$s.pid" TERM; done
	stop_pid redis "$RUN/redis.pid" TERM
	stop_pid postgres "$RUN/postgres.pid" INT
	rm -rf "$RUN"
	;;
nginx-reload)
	nginx_conf
	nginx -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" -e "$DATA/log/nginx-error.log" -s reload
	;;
*) echo "usage: stack.sh up|down|nginx-reload" >&2; exit 2 ;;
esac
