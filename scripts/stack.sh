#!/usr/bin/env bash
# stack.sh up|down|status|nginx-reload|redis-up: start or stop the whole
# app from one data directory: a Postgres cluster, Redis, the FastCGI
# programs (each under a small restart loop) and nginx. Every process is
# stopped by the PID it recorded, never by name. `status` lists what runs;
# `redis-up` starts Redis alone again (the fault drills kill it).
#
# Private to the user who starts it (DESIGN.md "Abuse and production
# defaults"): DATA is 0700 (0710 with group postgres when root, whose
# Postgres runs as user postgres), Postgres listens only on a socket in a
# 0700 directory and admits peer authentication only (this OS user, and
# the postgres user, as any of the app's roles), Redis only on 127.0.0.1
# and only with a password (one user per role, scripts/redis-users.sh;
# the passwords in $DATA/secrets.env), and the run directory (sockets,
# pid files, nginx) is made fresh by mktemp at every `up` (0700; 0710
# with group www-data when root, for nginx's workers) and recorded in
# $DATA/run_dir. `up` refuses (exit 1, nothing touched) while a stack of
# the same DATA is running or a port is taken; a start that fails stops
# what it started and exits 1 with the reason.
#
# Environment (scripts/run.sh and scripts/test.sh set these):
#   DATA        data directory (Postgres cluster, Redis AOF, logs, sockets)
#   BIN         directory of the built programs
#   PORT        nginx port;  REDIS_PORT, PG_PORT: ports of the data servers
#   MODE        run (durable: fsync, synchronous_commit) or test (fast)
#   PAYMENT_PROVIDER  test or stripe: no default (the programs have none)
#   THREADS     FastCGI threads per program (default 8)
#   OPS_THREADS threads of the ops program (default 2: health checks,
#               /metrics scrapes and the operators' pages are few)
#   WORKER_ARGS options for the worker (worker.c), e.g. "--consumers 4"
#   OPS_ALLOW   addresses (nginx allow syntax, space-separated) that may
#               reach /ops and /metrics (default "127.0.0.1 ::1")
# Writes $DATA/env: the variables a client of this stack needs.
set -euo pipefail
cmd=${1:?usage: stack.sh up|down|status|nginx-reload|redis-up}
: "${DATA:?}" "${BIN:?}" "${PORT:?}" "${REDIS_PORT:?}" "${PG_PORT:?}"
[ "$cmd" != up ] || : "${PAYMENT_PROVIDER:?must be set (test or stripe); make run and make test set it}"
MODE=${MODE:-run}
THREADS=${THREADS:-8}
OPS_THREADS=${OPS_THREADS:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# Sockets, pid files, nginx's config and a copy of static/ live in a short
# directory that nginx's workers (www-data when we are root) can always
# reach, whatever the permissions above the checkout: unix socket paths are
# limited to 107 bytes, and /root is 0700. A fresh one at every `up`
# (mktemp: never a directory someone else made first); the others find it
# in $DATA/run_dir.
RUN=$(cat "$DATA/run_dir" 2>/dev/null || true)
case $RUN in /tmp/tix.*) [ -d "$RUN" ] && [ -O "$RUN" ] || RUN= ;; *) RUN= ;; esac
SERVICES="auth tickets orders payments ops"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

if [ "$(id -u)" = 0 ]; then AS_PG="runuser -u postgres --"; NGINX_USER="user www-data;"; GROUP=www-data
else AS_PG=""; NGINX_USER=""; GROUP=""; fi
ME=$(id -un)

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
	# The socket directory: only its owner (and root) may open the socket.
	[ -n "$AS_PG" ] && chown postgres:postgres "$DATA/pg"
	chmod 0700 "$DATA/pg"
	if [ ! -s "$DATA/pg/data/PG_VERSION" ]; then
		$AS_PG "$PGBIN/initdb" -D "$DATA/pg/data" -U postgres --auth-local=peer \
			--auth-host=reject -E UTF8 --locale=C.UTF-8 >"$DATA/log/initdb.log" 2>&1 ||
			{ say "initdb failed; see $DATA/log/initdb.log"; return 1; }
	fi
	pg_auth "$(grep -ho 'CREATE ROLE [a-z_]* LOGIN' "$ROOT"/sql/*.sql | cut -d' ' -f3)" || true
	local opts="-k $DATA/pg -p $PG_PORT -c listen_addresses= -c max_connections=200"
	[ "$MODE" = test ] && opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	$AS_PG "$PGBIN/pg_ctl" -D "$DATA/pg/data" -l "$DATA/pg/server.log" -w -t 60 \
		-o "$opts" start >/dev/null ||
		{ say "Postgres did not start; see $DATA/pg/server.log"; tail -n 5 "$DATA/pg/server.log"; return 1; }
	head -1 "$DATA/pg/data/postmaster.pid" >"$RUN/postgres.pid"
	local su="host=$DATA/pg port=$PG_PORT user=postgres"
	psql "$su dbname=postgres" -Xqtc "SELECT 1 FROM pg_database WHERE datname='ticketing'" |
		grep -q 1 || psql "$su dbname=postgres" -Xqc "CREATE DATABASE ticketing" >/dev/null
	"$ROOT/scripts/migrate.sh" "$su dbname=ticketing"
	# Roles a migration made under another spelling: admit them too.
	if pg_auth "$(psql "$su dbname=ticketing" -XAtc "SELECT rolname FROM pg_roles WHERE rolcanlogin")"; then
		psql "$su dbname=postgres" -XAtqc "SELECT pg_reload_conf()" >/dev/null
	fi
}

# pg_hba.conf and pg_ident.conf, rewritten at every start (a cluster of an
# older checkout trusted every local connection): the socket only, peer
# authentication, and map "tix": the OS user running the stack may connect
# as any of ROLES and as postgres, the postgres OS user as postgres.
# Returns 0 if pg_ident.conf changed.
pg_auth() { # roles (space- or newline-separated)
	local d=$DATA/pg/data r ident
	ident=$(printf '%s\n' "# scripts/stack.sh: who may connect as whom (peer)" \
		"tix postgres postgres" "tix $ME postgres"
		for r in $1; do printf 'tix %s %s\n' "$ME" "$r"; done)
	printf '%s\n' "# scripts/stack.sh: the socket only (0700 directory), peer authentication" \
		"local all all peer map=tix" | $AS_PG tee "$d/pg_hba.conf" >/dev/null
	[ "$ident" != "$($AS_PG cat "$d/pg_ident.conf" 2>/dev/null)" ] || return 1
	printf '%s\n' "$ident" | $AS_PG tee "$d/pg_ident.conf" >/dev/null
}

# ---- Redis ----------------------------------------------------------------
# Loopback only, and a password for every user (deploy/redis/: the same
# users and rules as an installed host), generated once into
# $DATA/secrets.env.
secret() { sed -n "s/^REDIS_$1_PASSWORD=//p" "$DATA/secrets.env" | tail -1; }
redis_url() { # role (tickets, ops, worker), or "" for the default user
	local r=${1^^}
	echo "redis://${1:+ticketing-$1}:$(secret "${r:-ADMIN}")@127.0.0.1:$REDIS_PORT/0"
}
redis_ping() { [ "$(REDISCLI_AUTH=$(secret ADMIN) redis-cli -p "$REDIS_PORT" ping 2>&1)" = PONG ]; }
redis_up() {
	mkdir -p "$DATA/redis" && chmod 0700 "$DATA/redis"
	"$ROOT/scripts/redis-users.sh" "$DATA/secrets.env" "$DATA/redis/users.conf"
	redis-server "$DATA/redis/users.conf" --bind 127.0.0.1 --protected-mode yes \
		--port "$REDIS_PORT" --dir "$DATA/redis" \
		--appendonly yes --appendfsync always --save '' --daemonize yes \
		--pidfile "$RUN/redis.pid" --logfile "$DATA/log/redis.log" >/dev/null
	wait_for redis redis_ping
}

# ---- the FastCGI programs, each in a restart loop --------------------------
supervise() { # name command...
	local name=$1; shift
	(
		child=
		trap '[ -z "$child" ] || { kill -TERM $child; wait $child; } 2>/dev/null; exit 0' TERM INT HUP
		while :; do
			"$@" &
			child=$!
			echo $child >"$RUN/$name.child"
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
		# Each program gets only its own Redis user (auth, orders and
		# payments none: they do not use Redis).
		supervise "$s" env REDIS_URL="$(prog_redis_url "$s")" \
			"$BIN/$s" --socket "$RUN/$s.sock" --threads "$n" ${GROUP:+--socket-group "$GROUP"}
	done
	for s in $SERVICES; do
		[ -x "$BIN/$s" ] || continue
		wait_for "$s" test -S "$RUN/$s.sock"
	done
	# The event runtime (outbox relays, consumer groups), if built.
	# shellcheck disable=SC2086 # WORKER_ARGS is a list of options
	if [ -x "$BIN/worker" ]; then
		supervise worker env REDIS_URL="$(redis_url worker)" "$BIN/worker" ${WORKER_ARGS:-}
	fi
}
prog_redis_url() { case $1 in tickets | ops) redis_url "$1" ;; *) echo ;; esac; }

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
	(umask 077 && cat >"$DATA/env" <<ENV)
export BASE_URL=http://127.0.0.1:$PORT
export DATABASE_URL="$pg user=postgres"
# Redis's default user: every command (tests; redis-cli reads REDISCLI_AUTH).
export REDIS_URL=$(redis_url "")
export REDISCLI_AUTH=$(secret ADMIN)
# What the programs themselves get (to start another worker by hand):
export TICKETS_REDIS_URL=$(redis_url tickets)
export OPS_REDIS_URL=$(redis_url ops)
export WORKER_REDIS_URL=$(redis_url worker)
export PAYMENT_PROVIDER=$PAYMENT_PROVIDER
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

# What is still running of an earlier `up` of this DATA, one "name (pid N)"
# a line: the processes its run directory records, and a Postmaster of
# DATA's cluster.
running() {
	local f p
	if [ -n "$RUN" ]; then
		for f in "$RUN"/*.pid "$RUN"/*.child; do
			[ -s "$f" ] && [ "${f##*/}" != postgres.pid ] || continue
			p=$(cat "$f"); gone "$p" || echo "$(basename "${f%.*}") (pid $p)"
		done
	fi
	p=$(head -1 "$DATA/pg/data/postmaster.pid" 2>/dev/null || true)
	if [ -n "$p" ] && ! gone "$p" && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = postgres ]; then
		echo "postgres (pid $p)"
	fi
}

# A supervised program whose supervisor is gone (a signal to the whole
# process group reached the loop first): stopped by its recorded PID if
# that PID is still that program.
stop_child() { # name
	local f=$RUN/$1.child p
	[ -s "$f" ] || return 0
	p=$(cat "$f")
	if ! gone "$p" && [ "$(basename "$(readlink "/proc/$p/exe" 2>/dev/null)")" = "$1" ]; then
		stop_pid "$1" "$f" TERM
	fi
	rm -f "$f"
}

stack_down() {
	local s p
	if [ -n "$RUN" ]; then
		stop_pid nginx "$RUN/nginx.pid" QUIT
		stop_pid worker "$RUN/worker.pid" TERM
		stop_child worker
		for s in $SERVICES; do stop_pid "$s" "$RUN/$s.pid" TERM; stop_child "$s"; done
		stop_pid redis "$RUN/redis.pid" TERM
		stop_pid postgres "$RUN/postgres.pid" INT
		rm -rf "$RUN"
	fi
	rm -f "$DATA/run_dir"
	# A Postmaster of this cluster with no run directory (its `up` died).
	p=$(head -1 "$DATA/pg/data/postmaster.pid" 2>/dev/null || true)
	if [ -n "$p" ] && ! gone "$p" && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = postgres ]; then
		$AS_PG "$PGBIN/pg_ctl" -D "$DATA/pg/data" -m fast -w stop >/dev/null || true
	fi
}

port_free() { # variable name
	if (echo >"/dev/tcp/127.0.0.1/${!1}") 2>/dev/null; then
		say "port ${!1} ($1) is already in use on 127.0.0.1; choose another, e.g. $1=$((${!1} + 1))"
		return 1
	fi
}

stack_up() {
	local busy
	mkdir -p "$DATA"
	[ -O "$DATA" ] || { say "$DATA belongs to another user: not using it"; return 1; }
	busy=$(running)
	if [ -n "$busy" ]; then
		say "a stack of $DATA is already running: $(echo $busy)."
		say "Stop it first (Ctrl-C in its make run, or DATA=$DATA scripts/stack.sh down)."
		return 1
	fi
	[ -z "$RUN" ] || rm -rf "$RUN" # left by a run that died
	port_free PORT && port_free REDIS_PORT || return 1
	RUN=$(mktemp -d /tmp/tix.XXXXXXXX)
	echo "$RUN" >"$DATA/run_dir"
	trap 'rc=$?; if [ $rc -ne 0 ]; then say "start failed; stopping what it started"; stack_down; fi' EXIT
	if [ -n "$AS_PG" ]; then
		chgrp postgres "$DATA" && chmod 0710 "$DATA" # Postgres (user postgres) reaches DATA/pg
		chgrp "$GROUP" "$RUN" && chmod 0710 "$RUN"   # nginx's workers reach the sockets
	else
		chmod 0700 "$DATA"
	fi
	mkdir -p "$DATA/log" && chmod 0700 "$DATA/log"
	export AUTH_DATABASE_URL="host=$DATA/pg port=$PG_PORT dbname=ticketing user=auth"
	export TICKETS_DATABASE_URL="host=$DATA/pg port=$PG_PORT dbname=ticketing user=tickets"
	export ORDERS_DATABASE_URL="host=$DATA/pg port=$PG_PORT dbname=ticketing user=orders"
	export PAYMENTS_DATABASE_URL="host=$DATA/pg port=$PG_PORT dbname=ticketing user=payments"
	export OPS_DATABASE_URL="host=$DATA/pg port=$PG_PORT dbname=ticketing user=ops"
	export TEMPLATE_DIR="$ROOT/templates"
	# Request counters of every program, shared by its processes (ops reads).
	export METRICS_DIR="$RUN/metrics"
	mkdir -p "$METRICS_DIR" && chmod 0700 "$METRICS_DIR"
	pg_up
	redis_up
	services_up
	nginx_up
	write_env
	trap - EXIT
}

case $cmd in
up) stack_up ;;
down) stack_down ;;
status) running | grep . ;; # what runs, one a line; exit 1 if nothing
redis-up)
	[ -n "$RUN" ] || { say "no stack of $DATA is running"; exit 1; }
	redis_up
	;;
nginx-reload)
	nginx_conf
	nginx -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" -e "$DATA/log/nginx-error.log" -s reload
	;;
*) echo "usage: stack.sh up|down|status|nginx-reload|redis-up" >&2; exit 2 ;;
esac
