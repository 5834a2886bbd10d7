#!/usr/bin/env bash
# failover_fixture.sh: the replicated servers the failover client tests
# (tests/unit/test_failover.c) run against, on loopback and free ports.
#
#   tests/stack/failover_fixture.sh up DIR        start, write DIR/env
#   tests/stack/failover_fixture.sh pg-failover DIR
#   tests/stack/failover_fixture.sh down DIR      stop everything (by PID)
#
# Redis: a master, a replica and three sentinels (quorum 2, down after
# 1 s) watching it under a master name of its own. Postgres: a primary and
# a streaming standby (pg_basebackup -R), sockets in DIR/pg. pg-failover
# does by hand what a failover manager does: stops the primary (immediate),
# promotes the standby and makes the old primary a standby of the new one,
# so the pair is whole again afterwards. The tests find out the roles by
# asking (ROLE, pg_is_in_recovery), never from the order of the ports.
#
# Both nodes also have an ACL user fx-app (a password, only the commands
# the client sends); a fourth sentinel of the same master answers only
# that user.
#
# DIR/env exports TEST_SENTINELS (host:port,...), TEST_REDIS_MASTER_NAME,
# TEST_REDIS_NODES (the two redis:// URLs), TEST_REDIS_ACL (user:password),
# TEST_AUTH_SENTINEL (host:port), TEST_PG_HOST (the socket
# directory), TEST_PG_PORTS ("P1 P2") and TEST_FAILOVER_CTL (the command
# line of this script's pg-failover for DIR). Every process started here
# is stopped by the PID it recorded.
set -uo pipefail
cmd=${1:?usage: failover_fixture.sh up|pg-failover|down DIR}
D=${2:?usage: failover_fixture.sh up|pg-failover|down DIR}
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
if [ "$(id -u)" = 0 ]; then AS_PG="runuser -u postgres --"; else AS_PG=""; fi

free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 12000)) # below the ephemeral range
		(echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}
wait_for() { # tries, command...
	local n=$1 i; shift
	for i in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}
pg() { # port, pg_ctl arguments...
	local port=$1; shift
	$AS_PG "$PGBIN/pg_ctl" -D "$D/pg$port" -l "$D/pg$port.log" "$@" >/dev/null 2>&1
}
pg_start() { # port
	pg "$1" -w -t 60 -o "-k $D/pg -p $1 -c listen_addresses= -c fsync=off" start
}
in_recovery() { # port: t, f, or nothing when down
	psql "host=$D/pg port=$1 dbname=postgres user=postgres" -XAtqc \
		"SELECT pg_is_in_recovery()" 2>/dev/null
}
standby_of() { # new standby port, primary port
	rm -rf "$D/pg$1"
	$AS_PG "$PGBIN/pg_basebackup" -D "$D/pg$1" -R -X stream -c fast \
		-d "host=$D/pg port=$2 user=postgres" >>"$D/basebackup.log" 2>&1 &&
		pg_start "$1"
}

ACL_PW=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
redis_up() {
	local m r s i
	m=$(free_port); r=$(free_port)
	for i in m r; do
		mkdir -p "$D/redis-$i"
		{ echo "bind 127.0.0.1"; echo "port ${!i}"; echo "dir $D/redis-$i"
		  echo "save \"\""; echo "appendonly no"; echo "repl-diskless-sync-delay 0"
		  echo "daemonize yes"; echo "pidfile $D/redis-$i.pid"
		  echo "logfile $D/redis-$i.log"
		  echo "user default on nopass ~* &* +@all"
		  echo "user fx-app on >$ACL_PW resetchannels ~* -@all +ping +select +role +set +wait"
		  [ "$i" = r ] && echo "replicaof 127.0.0.1 $m"; } >"$D/redis-$i/redis.conf"
		redis-server "$D/redis-$i/redis.conf" || return 1
		wait_for 50 redis-cli -p "${!i}" ping || return 1
	done
	NAME=fx$$
	SENTINELS=
	for i in 1 2 3; do
		s=$(free_port)
		mkdir -p "$D/sentinel-$i"
		{ echo "bind 127.0.0.1"; echo "port $s"; echo "dir $D/sentinel-$i"
		  echo "daemonize yes"; echo "pidfile $D/sentinel-$i.pid"
		  echo "logfile $D/sentinel-$i.log"
		  echo "sentinel monitor $NAME 127.0.0.1 $m 2"
		  echo "sentinel down-after-milliseconds $NAME 1000"
		  echo "sentinel failover-timeout $NAME 10000"; } >"$D/sentinel-$i/sentinel.conf"
		redis-sentinel "$D/sentinel-$i/sentinel.conf" || return 1
		wait_for 50 redis-cli -p "$s" ping || return 1
		SENTINELS=${SENTINELS:+$SENTINELS,}127.0.0.1:$s
	done
	NODES="redis://127.0.0.1:$m/0 redis://127.0.0.1:$r/0"
	# Ready when every sentinel knows the replica and the other two.
	ready() {
		local x out
		for x in ${SENTINELS//,/ }; do
			out=$(redis-cli -p "${x##*:}" SENTINEL master "$NAME" 2>/dev/null | tr '\n' ' ')
			[[ $out == *"num-slaves 1 "* && $out == *"num-other-sentinels 2 "* ]] || return 1
		done
	}
	wait_for 300 ready || return 1
	# A fourth sentinel of the same master that wants a password (user
	# fx-app, as on the nodes). It follows every failover as the others
	# do (their announcements reach it through the master); they cannot
	# ask it anything, which costs nothing with three of them.
	AUTH_SENTINEL_PORT=$(free_port)
	mkdir -p "$D/sentinel-auth"
	{ echo "bind 127.0.0.1"; echo "port $AUTH_SENTINEL_PORT"; echo "dir $D/sentinel-auth"
	  echo "daemonize yes"; echo "pidfile $D/sentinel-auth.pid"
	  echo "logfile $D/sentinel-auth.log"
	  echo "sentinel monitor $NAME 127.0.0.1 $m 2"
	  echo "user default off"
	  echo "user fx-app on >$ACL_PW resetchannels -@all +ping +sentinel|get-master-addr-by-name"
	} >"$D/sentinel-auth/sentinel.conf"
	redis-sentinel "$D/sentinel-auth/sentinel.conf" &&
		wait_for 50 test -s "$D/sentinel-auth.pid"
}

pg_up() {
	mkdir -p "$D/pg"
	[ -n "$AS_PG" ] && chown postgres:postgres "$D" "$D/pg"
	P1=$(free_port); P2=$(free_port)
	$AS_PG "$PGBIN/initdb" -D "$D/pg$P1" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
		>"$D/initdb.log" 2>&1 || return 1
	pg_start "$P1" && standby_of "$P2" "$P1" || return 1
	wait_for 100 test "$(in_recovery "$P2")" = t
}

case $cmd in
up)
	mkdir -p "$D" && chmod 0755 "$D"
	redis_up || { echo "failover fixture: redis did not come up (see $D)"; exit 1; }
	pg_up || { echo "failover fixture: postgres did not come up (see $D)"; exit 1; }
	cat >"$D/env" <<ENV
export TEST_SENTINELS=$SENTINELS
export TEST_REDIS_MASTER_NAME=$NAME
export TEST_REDIS_NODES="$NODES"
export TEST_REDIS_ACL="fx-app:$ACL_PW"
export TEST_AUTH_SENTINEL=127.0.0.1:$AUTH_SENTINEL_PORT
export TEST_PG_HOST=$D/pg
export TEST_PG_PORTS="$P1 $P2"
export TEST_FAILOVER_CTL="$SELF pg-failover $D"
ENV
	;;
pg-failover)
	. "$D/env"
	read -r a b <<<"$TEST_PG_PORTS"
	if [ "$(in_recovery "$a")" = f ]; then old=$a new=$b; else old=$b new=$a; fi
	pg "$old" -m immediate -w stop
	pg "$new" -w promote || exit 1
	wait_for 100 test "$(in_recovery "$new")" = f || exit 1
	standby_of "$old" "$new" && wait_for 100 test "$(in_recovery "$old")" = t
	;;
down)
	for f in "$D"/sentinel-*.pid "$D"/redis-*.pid; do
		[ -s "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null
	done
	for d in "$D"/pg[0-9]*; do
		[ -s "$d/postmaster.pid" ] && $AS_PG "$PGBIN/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1
	done
	;;
*) echo "usage: failover_fixture.sh up|pg-failover|down DIR" >&2; exit 2 ;;
esac
