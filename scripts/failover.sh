#!/usr/bin/env bash
# failover.sh: the app on replicated Postgres and Redis, under load, through the loss of the primary and of the master.
#
#   scripts/failover.sh full [DRILL...]    `make failover` (root): hosts as network namespaces
#   scripts/failover.sh short [DRILL...]   `make test`: every server on loopback, no root needed
#
# What runs (full; short puts it all on 127.0.0.1 with free ports, and one
# app host), on 10.79.0.0/24 between our own namespaces (a ninth holds the
# bridge; nothing is added to the root namespace but transient veth names):
#   lb    .1  nginx :8080 (both app hosts in every upstream), the load, the
#             fake Stripe, the probe and the checks
#   app1  .2  auth, tickets, orders, payments, ops (FastCGI over TCP) and a
#   app2  .3  worker on each, FCGI_WEB_SERVER_ADDRS=lb
#   mon   .4  the pg_auto_failover monitor :5431, sentinel 3
#   pg1   .5  Postgres node1 :5432 under its pg_autoctl keeper
#   pg2   .6  Postgres node2 :5433 (synchronous standby)
#   rd1   .7  Redis :6379 (master at first), sentinel 1
#   rd2   .8  Redis :6380 (replica), sentinel 2
# Every program and the worker get a multi-host conninfo (host=pg1,pg2
# ... target_session_attrs=read-write) and REDIS_SENTINELS / REDIS_MASTER_NAME,
# with REDIS_WAIT_REPLICAS=1: nothing of ours decides a failover.
#
# Drills (each under tests/faults/load.c, 6 users browsing, selling, buying
# and paying through the fake Stripe, orders expiring after 8 s so that
# expirations fall due during every outage; tests/faults/failover_probe
# writing to both through the programs' own client code every 100 ms):
#   pg-kill          every process of the primary's host killed (-9; full:
#                    its link down too); after the failover it starts
#                    again (pg_autoctl run) and rejoins as the standby
#   pg-partition     (full) the primary's link cut: the monitor promotes
#                    the standby, the old primary demotes itself; the link
#                    back, it rejoins as the standby (pg_rewind)
#   redis-kill       the master killed (-9); after the failover it starts
#                    again as a replica of the new master
#   redis-partition  (full) the master's host (master and sentinel 1) cut
#                    off; the link back, the sentinels make it a replica
# After each: tests/faults/check_invariants.sh (I1-I7; every 201 for a
# ticket, an order or a payment exists; no ticket sold twice; no charge
# without a payment or a refund), the standby equal to the primary (LSN
# and content), the Redis replica equal to the master (offset, keys,
# stream lengths). Printed per drill: the failover as the tool did it,
# the seconds writes were impossible (the longest time without a
# successful write from the fault on: from the last success before the
# first failure to the first success after; over HTTP, and through the
# client library: the probe), requests failed, events delayed (published more than 1 s
# after their commit) and the longest delay, orders that fell due during
# the outage, and the time until the failed node was back and caught up.
# Targets: Postgres writes back within 30 s, Redis within 15 s; 0 lost, 0
# doubled. Ends "N passed, N failed". Every process started here is
# stopped by its PID (full: and every process left in our namespaces),
# the namespaces deleted, the data kept only if a drill failed.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ARG=${1:-short}
[ $# -gt 0 ] && shift
case $ARG in
full) MODE=netns; DRILLS=${*:-pg-kill pg-partition redis-kill redis-partition} ;;
short) MODE=loop; DRILLS=${*:-redis-kill pg-kill} ;;
*) echo "usage: failover.sh full|short [DRILL...]" >&2; exit 2 ;;
esac
BIN=${BIN:-$ROOT/build/release/bin}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
# Load per drill: past the failover, the restart and the catching up.
if [ "$MODE" = netns ]; then PG_LOAD_S=50 REDIS_LOAD_S=35; else PG_LOAD_S=38 REDIS_LOAD_S=25; fi
WARM_S=8
PG_TARGET=30 REDIS_TARGET=15
if [ "$MODE" = netns ] && [ "$(id -u)" != 0 ]; then
	echo "failover: full needs root (ip netns); scripts/failover.sh short runs on loopback"
	echo "0 passed, 1 failed"; exit 1
fi
for t in pg_autoctl redis-server redis-sentinel nginx psql node jq; do
	command -v "$t" >/dev/null || { echo "failover: no $t (scripts/deps.sh)"; echo "0 passed, 1 failed"; exit 1; }
done
for b in auth tickets orders payments worker load failover_probe; do
	[ -x "$BIN/$b" ] || { echo "failover: no $BIN/$b (make build)"; echo "0 passed, 1 failed"; exit 1; }
done

T=$(mktemp -d /tmp/tixfailover.XXXXXX)
chmod 0755 "$T"
mkdir -p "$T/log" "$T/pg/run" "$T/nginx"
export JWT_KEY=${JWT_KEY:-$(head -c 48 /dev/urandom | base64 -w0)}
declare -A PIDS=() NS=() ADDR=()
passed=0 failed=0
RESULTS=$T/results
: >"$RESULTS"
say() { echo "failover: $*"; }
now() { date +%s.%N | cut -c1-14; }
elapsed() { awk -v a="$1" -v b="${2:-$(now)}" 'BEGIN { printf "%.1f", b - a }'; }

# ---- hosts ------------------------------------------------------------------------
HOSTS="lb app1 app2 mon pg1 pg2 rd1 rd2"
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 12000)) # below the ephemeral range
		(echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}
if [ "$MODE" = netns ]; then
	P=fo$$ NET=10.79.0 i=0
	for h in $HOSTS; do i=$((i + 1)); NS[$h]=$P$h; ADDR[$h]=$NET.$i; done
	APP_HOSTS="app1 app2"
	LB_PORT=8080 MON_PORT=5431 PG1_PORT=5432 PG2_PORT=5433 RD1_PORT=6379 RD2_PORT=6380
	S1_PORT=26379 S2_PORT=26379 S3_PORT=26379
	declare -A SVC_PORT=([auth]=9001 [tickets]=9002 [orders]=9003 [payments]=9004 [ops]=9005)
	HBA_NET=$NET.0/24
else
	for h in $HOSTS; do NS[$h]=; ADDR[$h]=127.0.0.1; done
	APP_HOSTS="app1"
	LB_PORT=$(free_port) MON_PORT=$(free_port) PG1_PORT=$(free_port) PG2_PORT=$(free_port)
	RD1_PORT=$(free_port) RD2_PORT=$(free_port)
	S1_PORT=$(free_port) S2_PORT=$(free_port) S3_PORT=$(free_port)
	declare -A SVC_PORT=([auth]=$(free_port) [tickets]=$(free_port) [orders]=$(free_port)
		[payments]=$(free_port) [ops]=$(free_port))
	HBA_NET=127.0.0.1/32
fi
declare -A PG_PORT=([pg1]=$PG1_PORT [pg2]=$PG2_PORT) RD_PORT=([rd1]=$RD1_PORT [rd2]=$RD2_PORT)
declare -A NODE_HOST=([node1]=pg1 [node2]=pg2)
SENTINEL_HOSTS="rd1 rd2 mon"
declare -A S_PORT=([rd1]=$S1_PORT [rd2]=$S2_PORT [mon]=$S3_PORT)

# A command on a host (full: in its namespace; ip netns exec runs it
# itself, so a program started with "on HOST prog &" has $! = its PID).
on() { local h=$1; shift; if [ -n "${NS[$h]}" ]; then ip netns exec "${NS[$h]}" "$@"; else "$@"; fi; }
# As the postgres user (Postgres refuses root); setpriv execs, keeping PIDs.
if [ "$(id -u)" = 0 ]; then AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups); else AS_PG=(); fi
PG_ENV=(env HOME="$T/pg" XDG_CONFIG_HOME="$T/pg/xdg-config" XDG_DATA_HOME="$T/pg/xdg-data"
	XDG_RUNTIME_DIR="$T/pg/run" PGHOST="$T/pg/run" PATH="$PGBIN:$PATH")
PGA=("${AS_PG[@]}" "${PG_ENV[@]}") # pg_autoctl's command prefix
# start HOST KEY LOG command...: in the background, PID in PIDS[KEY]
start() {
	local h=$1 k=$2 log=$3; shift 3
	if [ -n "${NS[$h]}" ]; then ip netns exec "${NS[$h]}" "$@" </dev/null >>"$log" 2>&1 &
	else "$@" </dev/null >>"$log" 2>&1 & fi
	PIDS[$k]=$!
}
alive() { [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
stop_key() { # KEY [signal]: stop and reap a program we started
	local p=${PIDS[$1]:-}
	[ -n "$p" ] || return 0
	kill "-${2:-TERM}" "$p" 2>/dev/null
	local i; for i in $(seq 100); do alive "$p" || break; sleep 0.1; done
	alive "$p" && kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	unset "PIDS[$1]"
}
# Postgres started by a keeper outlives a keeper killed with -9: its
# postmaster (and in short mode everything) is stopped by its pid file.
pg_kill_data() { # pgdata
	local pm
	pm=$(head -1 "$1/postmaster.pid" 2>/dev/null) || return 0
	[ -n "$pm" ] && kill -KILL "$pm" 2>/dev/null
	# the backends notice their postmaster is gone; help them
	pkill_children "$pm"
}
pkill_children() { local c; for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do kill -KILL "$c" 2>/dev/null; done; }
descendants() { # PID: it and every process below it
	ps -e -o pid=,ppid= | awk -v root="$1" '{ parent[$1] = $2 } END {
		for (p in parent) { q = p; while (q != "" && q != 1 && q != 0) {
			if (q == root) { print p; break } q = parent[q] } } }'
}
kill_tree() { local p; for p in $(descendants "$1"); do kill -KILL "$p" 2>/dev/null; done; wait "$1" 2>/dev/null; }

cleanup() {
	local k ns d
	if [ "$failed" -gt 0 ] && [ -n "${FAILOVER_HOLD:-}" ]; then
		say "holding everything for ${FAILOVER_HOLD} s (FAILOVER_HOLD): namespaces ${NS[lb]:-none}..."
		sleep "$FAILOVER_HOLD"
	fi
	for k in load probe; do [ -n "${PIDS[$k]:-}" ] && stop_key "$k" KILL; done
	[ -s "$T/nginx.pid" ] && kill -QUIT "$(cat "$T/nginx.pid")" 2>/dev/null
	for k in "${!PIDS[@]}"; do
		case $k in keeper-*|monitor) kill -TERM "${PIDS[$k]}" 2>/dev/null ;; esac
	done
	for _ in $(seq 100); do
		local up=0
		for k in "${!PIDS[@]}"; do case $k in keeper-*|monitor) alive "${PIDS[$k]}" && up=1 ;; esac; done
		[ "$up" = 0 ] && break; sleep 0.1
	done
	for k in "${!PIDS[@]}"; do kill_tree "${PIDS[$k]}"; done
	for d in "$T/pg/monitor" "$T/pg/node1" "$T/pg/node2"; do pg_kill_data "$d"; done
	if [ "$MODE" = netns ]; then
		for ns in "${NS[@]}" "${SW:-}"; do
			[ -n "$ns" ] || continue
			for k in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$k" 2>/dev/null; done
		done
		sleep 0.3
		for ns in "${NS[@]}" "${SW:-}"; do [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null; done
	fi
	if [ "$failed" -eq 0 ] && [ -z "${KEEP_TEST_DATA:-}" ]; then rm -rf "$T"
	else echo "failover: logs and data kept in $T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
abort() { say "$*"; echo "setup: FAILED ($*)" >>"$RESULTS"; failed=$((failed + 1)); echo "0 passed, 1 failed"; exit 1; }

# ---- the network (full) ---------------------------------------------------------------
link() { # HOST up|down
	[ "$MODE" = netns ] && on "$1" ip link set e0 "$2"
}
if [ "$MODE" = netns ]; then
	SW=${P}sw
	ip netns add "$SW" && ip netns exec "$SW" ip link add br0 type bridge &&
		ip netns exec "$SW" ip link set br0 up || abort "no bridge"
	i=0
	for h in $HOSTS; do
		i=$((i + 1))
		ip netns add "${NS[$h]}" || abort "ip netns add"
		ip link add "${P}h$i" type veth peer name "${P}s$i" || abort "veth"
		ip link set "${P}h$i" netns "${NS[$h]}" && ip link set "${P}s$i" netns "$SW" || abort "veth"
		on "$h" ip link set "${P}h$i" name e0
		on "$h" ip addr add "${ADDR[$h]}/24" dev e0
		on "$h" ip link set e0 up && on "$h" ip link set lo up
		ip netns exec "$SW" ip link set "${P}s$i" master br0 up
	done
	reach() { [[ $(on lb timeout 1 bash -c "exec 3<>/dev/tcp/${ADDR[rd2]}/9" 2>&1) == *refused* ]]; }
	for _ in $(seq 40); do reach && break; sleep 0.25; done
	reach || abort "no network"
fi
say "mode $MODE, data in $T"

# ---- Postgres: pg_auto_failover ---------------------------------------------------------
# The monitor and node1 are initdb'd here (socket directory, memory and
# pg_hba ours: research/failover.md gotchas 1-3); node2 is a base backup
# of node1, made by its keeper (so it inherits both files).
chown -R postgres:postgres "$T/pg" 2>/dev/null
pg_conf() { # pgdata
	cat >>"$1/postgresql.auto.conf" <<CONF
unix_socket_directories = '$T/pg/run'
shared_buffers = '64MB'
effective_cache_size = '512MB'
max_connections = 300
CONF
	echo "host all all $HBA_NET trust" >>"$1/pg_hba.conf"
	echo "host replication all $HBA_NET trust" >>"$1/pg_hba.conf"
}
MON_URI="postgres://autoctl_node@${ADDR[mon]}:$MON_PORT/pg_auto_failover?sslmode=disable"
MON_SU="host=${ADDR[mon]} port=$MON_PORT dbname=pg_auto_failover user=postgres connect_timeout=2"
pg_up() {
	local n
	on mon "${AS_PG[@]}" "$PGBIN/initdb" -D "$T/pg/monitor" -A trust -U postgres >"$T/log/initdb-monitor.log" 2>&1 || return 1
	pg_conf "$T/pg/monitor"
	on mon "${PGA[@]}" pg_autoctl create monitor --pgdata "$T/pg/monitor" --pgport "$MON_PORT" \
		--hostname "${ADDR[mon]}" --auth trust --no-ssl >"$T/log/monitor-create.log" 2>&1 || return 1
	on mon "${PGA[@]}" pg_autoctl config set --pgdata "$T/pg/monitor" postgresql.listen_addresses "${ADDR[mon]}" \
		>>"$T/log/monitor-create.log" 2>&1
	start mon monitor "$T/log/monitor.log" "${PGA[@]}" pg_autoctl run --pgdata "$T/pg/monitor"
	for _ in $(seq 150); do on lb psql "$MON_SU" -XAtqc "SELECT 1" >/dev/null 2>&1 && break; sleep 0.2; done
	# Failover within seconds, not a minute (research/failover.md 1):
	# health checks every second, unhealthy after 5 s, and a partitioned
	# primary given 10 s (more than the keepers' 5 s) to demote itself.
	on lb psql "$MON_SU" -Xq -c "ALTER SYSTEM SET pgautofailover.health_check_period = 1000" \
		-c "ALTER SYSTEM SET pgautofailover.health_check_timeout = 1000" \
		-c "ALTER SYSTEM SET pgautofailover.health_check_retry_delay = 500" \
		-c "ALTER SYSTEM SET pgautofailover.node_considered_unhealthy_timeout = 5000" \
		-c "ALTER SYSTEM SET pgautofailover.primary_demote_timeout = 10000" \
		-c "SELECT pg_reload_conf()" >/dev/null || return 1
	on pg1 "${AS_PG[@]}" "$PGBIN/initdb" -D "$T/pg/node1" -A trust -U postgres -E UTF8 --locale=C.UTF-8 \
		>"$T/log/initdb-node1.log" 2>&1 || return 1
	pg_conf "$T/pg/node1"
	for n in node1 node2; do
		local h=${NODE_HOST[$n]}
		on "$h" "${PGA[@]}" pg_autoctl create postgres --pgdata "$T/pg/$n" --pgport "${PG_PORT[$h]}" \
			--hostname "${ADDR[$h]}" --listen "${ADDR[$h]}" --name "$n" --dbname ticketing \
			--auth trust --no-ssl --monitor "$MON_URI" --pgctl "$PGBIN/pg_ctl" \
			>"$T/log/$n-create.log" 2>&1 &
		local cpid=$!
		checkpoints_while "$cpid"
		wait "$cpid" || { tail -5 "$T/log/$n-create.log"; return 1; }
		on "$h" "${PGA[@]}" pg_autoctl config set --pgdata "$T/pg/$n" timeout.network_partition_timeout 5 \
			>>"$T/log/$n-create.log" 2>&1
		start "$h" "keeper-$n" "$T/log/$n.log" "${PGA[@]}" pg_autoctl run --pgdata "$T/pg/$n"
		[ "$n" = node1 ] && { wait_state node1 single 120 || return 1; }
	done
	local i
	for i in $(seq 180); do
		[ "$(node_state node2)" = secondary/secondary ] && break
		checkpoint_primary; sleep 1
	done
	wait_state node2 secondary 1 && wait_state node1 primary 60
}
# A new standby's base backup waits for a checkpoint on the primary, by
# default a spread one (minutes): ask for it now (gotcha 4).
checkpoint_primary() {
	local h; for h in pg1 pg2; do
		on lb psql "host=${ADDR[$h]} port=${PG_PORT[$h]} dbname=postgres user=postgres connect_timeout=1 \
			target_session_attrs=read-write" -Xqc CHECKPOINT >/dev/null 2>&1
	done
}
checkpoints_while() { while alive "$1"; do checkpoint_primary; sleep 0.5; done; }
# node_state NODE -> "reported/goal", from the monitor
node_state() {
	on lb psql "$MON_SU" -XAtq -c "SELECT reportedstate || '/' || goalstate FROM pgautofailover.node
		WHERE nodename = '$1'" 2>/dev/null
}
wait_state() { # NODE STATE SECONDS: reported and goal both STATE
	local i
	for i in $(seq $(($3 * 5))); do [ "$(node_state "$1")" = "$2/$2" ] && return 0; sleep 0.2; done
	return 1
}
pg_primary() { # the node whose goal is primary or wait_primary
	on lb psql "$MON_SU" -XAtq -c "SELECT nodename FROM pgautofailover.node
		WHERE goalstate IN ('primary', 'wait_primary', 'single') AND reportedstate = goalstate
		ORDER BY nodeid LIMIT 1" 2>/dev/null
}
other_node() { [ "$1" = node1 ] && echo node2 || echo node1; }
PG_HOSTS="${ADDR[pg1]},${ADDR[pg2]}" PG_PORTS="$PG1_PORT,$PG2_PORT"
SU="host=$PG_HOSTS port=$PG_PORTS dbname=ticketing user=postgres target_session_attrs=read-write connect_timeout=2"
node_su() { echo "host=${ADDR[${NODE_HOST[$1]}]} port=${PG_PORT[${NODE_HOST[$1]}]} dbname=ticketing user=postgres connect_timeout=2"; }

say "starting Postgres (pg_auto_failover: monitor, node1, node2)"
t=$(now)
pg_up || abort "pg_auto_failover did not come up (see $T/log)"
on lb "$ROOT/scripts/migrate.sh" "$SU" >"$T/log/migrate.log" 2>&1 || abort "migrations failed"
on lb psql "$SU" -Xq -c "CREATE TABLE IF NOT EXISTS public.failover_probe (t timestamptz NOT NULL)" ||
	abort "probe table"
say "Postgres up in $(elapsed "$t") s: $(on mon "${PGA[@]}" pg_autoctl show uri --formation default --pgdata "$T/pg/monitor" 2>/dev/null)"

# ---- Redis: master, replica, three sentinels -----------------------------------------------
# With the users of deploy/redis (scripts/redis-users.sh): each program its
# own, with its password, on the nodes and, for the one question they ask
# (where is the master), on the sentinels. The default user (the
# operator's, here the script's) is how replicas and sentinels reach the
# nodes and sentinels each other.
MASTER_NAME=ticketing
"$ROOT/scripts/redis-users.sh" "$T/secrets.env" "$T/redis-users.conf" || abort "redis users"
secret() { sed -n "s/^REDIS_$1_PASSWORD=//p" "$T/secrets.env" | tail -1; }
export REDISCLI_AUTH=$(secret ADMIN) # redis-cli's password, never on its command line
redis_conf() { # HOST [replicaof host port]
	local h=$1
	mkdir -p "$T/redis-$h" && chmod 0700 "$T/redis-$h"
	{ echo "bind ${ADDR[$h]}"; echo "port ${RD_PORT[$h]}"; echo "dir $T/redis-$h"
	  echo "protected-mode no"; echo "appendonly yes"; echo "appendfsync always"; echo 'save ""'
	  # a returning replica resyncs at once (the default waits 5 s)
	  echo "repl-diskless-sync-delay 0"
	  echo "masterauth $REDISCLI_AUTH"
	  grep '^user ' "$T/redis-users.conf"
	  if [ $# -eq 3 ]; then echo "replicaof $2 $3"; fi; } >"$T/redis-$h/redis.conf"
}
redis_start() { # HOST [replicaof host port]: from its config, as a replica if told
	local h=$1 extra=()
	[ $# -eq 3 ] && extra=(--replicaof "$2" "$3")
	start "$h" "redis-$h" "$T/log/redis-$h.log" redis-server "$T/redis-$h/redis.conf" "${extra[@]}"
	for _ in $(seq 100); do on lb redis-cli -h "${ADDR[$h]}" -p "${RD_PORT[$h]}" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}
sentinel_start() { # HOST
	local h=$1
	mkdir -p "$T/sentinel-$h"
	{ echo "bind ${ADDR[$h]}"; echo "port ${S_PORT[$h]}"; echo "dir $T/sentinel-$h"
	  echo "protected-mode no"
	  echo "sentinel monitor $MASTER_NAME ${ADDR[rd1]} $RD1_PORT 2"
	  echo "sentinel down-after-milliseconds $MASTER_NAME 3000"
	  echo "sentinel failover-timeout $MASTER_NAME 20000"
	  echo "sentinel auth-pass $MASTER_NAME $REDISCLI_AUTH"
	  echo "sentinel sentinel-pass $REDISCLI_AUTH"
	  sed -n -e '/^user default /p' -e 's/^\(user ticketing-[a-z]* on #[0-9a-f]*\) .*/\1 resetchannels -@all +ping +sentinel|get-master-addr-by-name/p' \
		"$T/redis-users.conf"; } >"$T/sentinel-$h/sentinel.conf"
	start "$h" "sentinel-$h" "$T/log/sentinel-$h.log" redis-sentinel "$T/sentinel-$h/sentinel.conf"
}
rcli() { on lb timeout 2 redis-cli -h "$1" -p "$2" "${@:3}"; } # a cut-off host must not hang us
SENTINELS=
for h in $SENTINEL_HOSTS; do SENTINELS=${SENTINELS:+$SENTINELS,}${ADDR[$h]}:${S_PORT[$h]}; done
redis_master() { # "host port" per the sentinels (the first that answers)
	local s out
	for s in ${SENTINELS//,/ }; do
		out=$(rcli "${s%:*}" "${s##*:}" SENTINEL get-master-addr-by-name "$MASTER_NAME" 2>/dev/null | tr '\n' ' ')
		[ -n "$out" ] && { echo "$out"; return 0; }
	done
	return 1
}
redis_host_of() { # "addr port" -> rd1|rd2
	local h; for h in rd1 rd2; do
		[ "${ADDR[$h]} ${RD_PORT[$h]}" = "${1% }" ] && { echo "$h"; return; }
	done
}
role_of() { rcli "${ADDR[$1]}" "${RD_PORT[$1]}" ROLE 2>/dev/null | head -1; }
# Both Redis nodes in place: the master the sentinels name has the other
# as a replica, online (its resync done) and acknowledging; with "exact",
# at the master's offset too (only once writes have stopped).
redis_synced() { # [exact]
	local m r info off roff
	m=$(redis_host_of "$(redis_master)") || return 1
	[ -n "$m" ] || return 1
	[ "$m" = rd1 ] && r=rd2 || r=rd1
	[ "$(role_of "$m")" = master ] && [ "$(role_of "$r")" = slave ] || return 1
	info=$(rcli "${ADDR[$m]}" "${RD_PORT[$m]}" INFO replication 2>/dev/null | tr -d '\r')
	off=$(sed -n 's/^master_repl_offset://p' <<<"$info")
	roff=$(sed -n 's/^slave0:.*state=online,offset=\([0-9]*\),lag=[01]$/\1/p' <<<"$info")
	[ -n "$roff" ] && { [ "${1:-}" != exact ] || [ "$off" = "$roff" ]; }
}
say "starting Redis (master, replica, 3 sentinels)"
redis_conf rd1 && redis_conf rd2 "${ADDR[rd1]}" "$RD1_PORT"
redis_start rd1 && redis_start rd2 || abort "redis did not start"
for h in $SENTINEL_HOSTS; do sentinel_start "$h"; done
sentinels_ready() {
	local s out
	for s in ${SENTINELS//,/ }; do
		out=$(rcli "${s%:*}" "${s##*:}" SENTINEL master "$MASTER_NAME" 2>/dev/null | tr '\n' ' ')
		[[ $out == *"num-slaves 1 "* && $out == *"num-other-sentinels 2 "* ]] || return 1
	done
}
for _ in $(seq 300); do sentinels_ready && break; sleep 0.1; done
sentinels_ready || abort "the sentinels do not see each other and the replica"

# ---- the app ---------------------------------------------------------------------------
mkdir -p "$T/stripe"
start lb fake_stripe "$T/log/fake_stripe.log" \
	env FAKE_STRIPE_HOST="${ADDR[lb]}" node "$ROOT/tests/fakes/fake_stripe.mjs" "$T/stripe/port"
for _ in $(seq 100); do [ -s "$T/stripe/port" ] && break; sleep 0.05; done
[ -s "$T/stripe/port" ] || abort "no fake Stripe"
export FAKE_STRIPE_URL=http://${ADDR[lb]}:$(cat "$T/stripe/port")
export TEMPLATE_DIR=$ROOT/templates PASSWORD_COST=min
export EXPIRATION_WINDOW_SECONDS=8 EXPIRATION_GRACE_SECONDS=3 ACK_WAIT_MS=1000
export PAYMENT_PROVIDER=stripe STRIPE_KEY=sk_test_fake STRIPE_API_BASE=$FAKE_STRIPE_URL
export STRIPE_TIMEOUT_MS=5000 PAYMENT_SETTLE_AFTER_MS=2000
export REDIS_SENTINELS=$SENTINELS REDIS_MASTER_NAME=$MASTER_NAME REDIS_WAIT_REPLICAS=1
unset REDIS_URL RUN_DIR METRICS_DIR DATABASE_URL http_proxy https_proxy HTTP_PROXY HTTPS_PROXY
export FCGI_WEB_SERVER_ADDRS=${ADDR[lb]}
# A program's Redis credentials (its host is not used: the sentinels say).
redis_url() { case $1 in tickets | ops | worker) echo "redis://ticketing-$1:$(secret "${1^^}")@sentinel/0" ;; esac; }
for s in auth tickets orders payments ops; do
	export "${s^^}_DATABASE_URL=host=$PG_HOSTS port=$PG_PORTS dbname=ticketing user=$s"
done
for h in $APP_HOSTS; do
	for s in "${!SVC_PORT[@]}"; do
		[ -x "$BIN/$s" ] || continue
		start "$h" "$h-$s" "$T/log/$h-$s.log" env REDIS_URL="$(redis_url "$s")" \
			"$BIN/$s" --socket "${ADDR[$h]}:${SVC_PORT[$s]}" --threads 4
	done
	start "$h" "$h-worker" "$T/log/$h-worker.log" env REDIS_URL="$(redis_url worker)" "$BIN/worker"
done
# nginx: nginx.conf.in with each unix-socket upstream replaced by the app hosts
: >"$T/nginx/limit-zone.conf"; : >"$T/nginx/limit.conf"
echo "allow ${ADDR[lb]}; deny all;" >"$T/nginx/ops-allow.conf"
cp -R "$ROOT/static" "$T/static" && chmod -R a+rX "$T/static"
{ sed -e "s|@RUN@|$T|g" "$ROOT/nginx/fastcgi.conf.in"; echo "fastcgi_next_upstream error timeout;"; } \
	>"$T/nginx/fastcgi.conf"
ups=""
for s in "${!SVC_PORT[@]}"; do
	ups="$ups	upstream $s {"
	for h in $APP_HOSTS; do ups="$ups server ${ADDR[$h]}:${SVC_PORT[$s]} max_fails=1 fail_timeout=5s;"; done
	ups="$ups }\n"
done
sed -e '/^[[:space:]]*upstream [a-z]* { server unix:/d' \
	-e "s|^\([[:space:]]*\)server {|$ups\1server {|" \
	-e "s|listen 127.0.0.1:@PORT@;|listen ${ADDR[lb]}:$LB_PORT;|" \
	-e "s|@RUN@|$T|g" -e "s|@ROOT@|$ROOT|g" -e "s|@LOG@|$T/log|g" \
	-e "s|@MAX_BODY@|102400|g" -e "s|@USER_LINE@|$([ "$(id -u)" = 0 ] && echo 'user www-data;')|" \
	-e "s|@CSP_STRIPE_SCRIPT@||" -e "s|@CSP_STRIPE_MORE@||" \
	"$ROOT/nginx/nginx.conf.in" >"$T/nginx/nginx.conf"
on lb nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" -e "$T/log/nginx-error.log" || abort "nginx"
BASE=http://${ADDR[lb]}:$LB_PORT
for _ in $(seq 100); do
	[ "$(on lb curl -s -o /dev/null -w '%{http_code}' "$BASE/api/tickets")" = 200 ] && break
	sleep 0.1
done
[ "$(on lb curl -s -o /dev/null -w '%{http_code}' "$BASE/api/tickets")" = 200 ] || abort "the app does not answer"
say "app up: $BASE (app hosts: $APP_HOSTS)"

# ---- measuring ----------------------------------------------------------------------------
# Outage in a timeline of "time what status-or-ok/fail" lines: the longest
# time without a successful one (an answer below 500, or "ok") from the
# last success before t0 on: it covers requests that fail at once and
# requests that hang until a timeout alike. "SECONDS" (one decimal).
outage() { # file t0 awk-filter-for-the-kind
	sort -n "$1" | awk -v t0="$2" "$3"' {
		good = ($3 == "ok" || ($3 ~ /^[0-9]+$/ && $3 > 0 && $3 < 500))
		if (!good) next
		if ($1 < t0) { prev = $1; next }
		if (prev != "" && $1 - prev > gap) gap = $1 - prev
		prev = $1
	} END { printf "%.1f\n", gap }'
}
failed_requests() { # timeline t0
	awk -v t0="$2" '$1 >= t0 { n++; if ($3 == 0 || $3 >= 500) f++ } END { printf "%d/%d", f, n }' "$1"
}
# Events committed since t0: delayed (published > 1 s after commit), max delay.
events_delayed() { # t0
	on lb psql "$SU" -XAtq -F' ' -c "WITH e AS (
		SELECT extract(epoch FROM published_at - created_at) d FROM tickets.outbox
			WHERE created_at >= to_timestamp($1) UNION ALL
		SELECT extract(epoch FROM published_at - created_at) FROM orders.outbox
			WHERE created_at >= to_timestamp($1) UNION ALL
		SELECT extract(epoch FROM published_at - created_at) FROM payments.outbox
			WHERE created_at >= to_timestamp($1))
		SELECT count(*) FILTER (WHERE d > 1), round(coalesce(max(d), 0)::numeric, 1), count(*) FROM e"
}
fell_due() { # from to: orders that expired (unpaid) in the window
	on lb psql "$SU" -XAtq -c "SELECT count(*) FROM orders.orders WHERE status = 'cancelled'
		AND expires_at BETWEEN to_timestamp($1) AND to_timestamp($2)"
}
# The standby equal to the primary: replayed up to the primary's LSN once
# writes stop, and the same rows in every table the app writes.
pg_digest() { # conninfo
	on lb psql "$1" -XAtq -c "SELECT md5(string_agg(t || ':' || n, ',' ORDER BY t)) FROM (
		SELECT 'tickets' t, count(*) || '/' || coalesce(sum(version), 0) n FROM tickets.tickets UNION ALL
		SELECT 'orders', count(*) || '/' || coalesce(sum(version), 0) FROM orders.orders UNION ALL
		SELECT 'payments', count(*)::text FROM payments.payments UNION ALL
		SELECT 'outbox', (SELECT count(*) FROM tickets.outbox) + (SELECT count(*) FROM orders.outbox)
			+ (SELECT count(*) FROM payments.outbox) || '' UNION ALL
		SELECT 'probe', count(*)::text FROM public.failover_probe) d" 2>/dev/null
}
pg_replica_equal() {
	local p s lsn i
	p=$(pg_primary); s=$(other_node "$p")
	for i in $(seq 60); do
		lsn=$(on lb psql "$(node_su "$p")" -XAtq -c "SELECT pg_current_wal_lsn()" 2>/dev/null)
		[ -n "$lsn" ] && [ "$(on lb psql "$(node_su "$s")" -XAtq -c \
			"SELECT pg_last_wal_replay_lsn() >= '$lsn'" 2>/dev/null)" = t ] &&
			[ "$(pg_digest "$(node_su "$p")")" = "$(pg_digest "$(node_su "$s")")" ] &&
			{ echo "standby $s = primary $p"; return 0; }
		sleep 0.5
	done
	echo "standby $s differs from primary $p"; return 1
}
redis_digest() { # host
	local h=$1 k out=""
	out=$(rcli "${ADDR[$h]}" "${RD_PORT[$h]}" DBSIZE)
	for k in ticket:created ticket:updated order:created order:cancelled expiration:complete \
		payment:created dead-letter; do
		out="$out/$(rcli "${ADDR[$h]}" "${RD_PORT[$h]}" XLEN "$k")"
	done
	echo "$out"
}
redis_replica_equal() {
	local m r i
	for i in $(seq 60); do
		m=$(redis_host_of "$(redis_master)"); [ "$m" = rd1 ] && r=rd2 || r=rd1
		redis_synced exact && [ "$(redis_digest "$m")" = "$(redis_digest "$r")" ] &&
			{ echo "replica $r = master $m"; return 0; }
		sleep 0.5
	done
	echo "replica $r differs from master $m"; return 1
}

# ---- the faults ------------------------------------------------------------------------------
kill_host() { # HOST: every process on it, as if the machine died (short: the node's processes)
	local h=$1 k p
	if [ "$MODE" = netns ]; then
		link "$h" down
		for p in $(ip netns pids "${NS[$h]}"); do kill -KILL "$p" 2>/dev/null; done
		for k in "${!PIDS[@]}"; do
			alive "${PIDS[$k]}" || { wait "${PIDS[$k]}" 2>/dev/null; unset "PIDS[$k]"; }
		done
	else
		for k in "${!PIDS[@]}"; do
			case $k in keeper-node1) [ "$h" = pg1 ] || continue ;; keeper-node2) [ "$h" = pg2 ] || continue ;;
				redis-"$h"|sentinel-"$h") ;; *) continue ;; esac
			kill_tree "${PIDS[$k]}"; unset "PIDS[$k]"
		done
		case $h in pg1) pg_kill_data "$T/pg/node1" ;; pg2) pg_kill_data "$T/pg/node2" ;; esac
	fi
}
FAILOVER_NOTE= FAIL_S= REJOIN_S=
f_pg_kill() {
	local old new h t
	old=$(pg_primary); new=$(other_node "$old"); h=${NODE_HOST[$old]}
	FAULT_AT=$(now)
	kill_host "$h"
	wait_state "$new" wait_primary 60 || wait_state "$new" primary 1 || { FAILOVER_NOTE="no promotion"; return 1; }
	FAIL_S=$(elapsed "$FAULT_AT")
	FAILOVER_NOTE="$old killed, $new promoted by the monitor in $FAIL_S s"
	sleep 3
	t=$(now)
	link "$h" up
	start "$h" "keeper-$old" "$T/log/$old.log" "${PGA[@]}" pg_autoctl run --pgdata "$T/pg/$old"
	RECOVERED_AT=$(now)
	wait_state "$old" secondary 120 && wait_state "$new" primary 30 || { FAILOVER_NOTE="$FAILOVER_NOTE; $old did not rejoin"; return 1; }
	REJOIN_S=$(elapsed "$t")
}
f_pg_partition() {
	[ "$MODE" = netns ] || { FAILOVER_NOTE="needs full (namespaces)"; return 1; }
	local old new h t
	old=$(pg_primary); new=$(other_node "$old"); h=${NODE_HOST[$old]}
	FAULT_AT=$(now)
	link "$h" down
	wait_state "$new" wait_primary 60 || wait_state "$new" primary 1 || { FAILOVER_NOTE="no promotion"; return 1; }
	FAIL_S=$(elapsed "$FAULT_AT")
	FAILOVER_NOTE="$old cut off, $new promoted by the monitor in $FAIL_S s"
	sleep 3
	t=$(now)
	link "$h" up
	RECOVERED_AT=$(now)
	wait_state "$old" secondary 120 && wait_state "$new" primary 30 || { FAILOVER_NOTE="$FAILOVER_NOTE; $old did not rejoin"; return 1; }
	REJOIN_S=$(elapsed "$t")
}
wait_new_master() { # OLD_HOST: until the sentinels name the other node and it says master
	local i m
	for i in $(seq 300); do
		m=$(redis_host_of "$(redis_master)")
		[ -n "$m" ] && [ "$m" != "$1" ] && [ "$(role_of "$m")" = master ] && { echo "$m"; return 0; }
		sleep 0.2
	done
	return 1
}
f_redis_kill() {
	local old new t
	old=$(redis_host_of "$(redis_master)")
	FAULT_AT=$(now)
	kill -KILL "${PIDS[redis-$old]}"; wait "${PIDS[redis-$old]}" 2>/dev/null; unset "PIDS[redis-$old]"
	new=$(wait_new_master "$old") || { FAILOVER_NOTE="no promotion"; return 1; }
	FAIL_S=$(elapsed "$FAULT_AT")
	FAILOVER_NOTE="master $old killed, $new promoted by the sentinels in $FAIL_S s"
	sleep 2
	t=$(now)
	# as an operator would: back as a replica of the master the sentinels name
	redis_start "$old" "${ADDR[$new]}" "${RD_PORT[$new]}" || { FAILOVER_NOTE="$FAILOVER_NOTE; no restart"; return 1; }
	RECOVERED_AT=$(now)
	for _ in $(seq 300); do redis_synced && break; sleep 0.2; done
	redis_synced || { FAILOVER_NOTE="$FAILOVER_NOTE; $old did not catch up"; return 1; }
	REJOIN_S=$(elapsed "$t")
}
f_redis_partition() {
	[ "$MODE" = netns ] || { FAILOVER_NOTE="needs full (namespaces)"; return 1; }
	local old new t
	old=$(redis_host_of "$(redis_master)")
	FAULT_AT=$(now)
	link "$old" down
	new=$(wait_new_master "$old") || { FAILOVER_NOTE="no promotion"; return 1; }
	FAIL_S=$(elapsed "$FAULT_AT")
	FAILOVER_NOTE="master $old cut off, $new promoted by the sentinels in $FAIL_S s"
	sleep 3
	t=$(now)
	link "$old" up
	RECOVERED_AT=$(now)
	for _ in $(seq 300); do redis_synced && break; sleep 0.2; done
	redis_synced || { FAILOVER_NOTE="$FAILOVER_NOTE; $old did not rejoin"; return 1; }
	REJOIN_S=$(elapsed "$t")
}

# ---- one drill ------------------------------------------------------------------------------
RECORD=$T/records
: >"$RECORD"
drill() { # name
	local name=$1 fn=f_${1//-/_} frc crc t0 tl=$T/log/timeline-$1 pr=$T/log/probe-$1
	local http probe_out kind target unavail nreq ev inv eq ok=1 why="" load_s
	case $name in pg-*) kind=pg target=$PG_TARGET load_s=$PG_LOAD_S ;;
		*) kind=redis target=$REDIS_TARGET load_s=$REDIS_LOAD_S ;; esac
	FAILOVER_NOTE= FAIL_S= REJOIN_S= FAULT_AT= RECOVERED_AT=
	echo "== drill $name"
	: >"$tl"; : >"$pr"
	t0=$(now)
	start lb load "$T/log/load-$name.out" env TEST_BASE_URL="$BASE" LOAD_TIMELINE="$tl" \
		"$BIN/load" "$load_s" 6 "$RECORD" "$name-$$"
	start lb probe "$T/log/probe-$name.out" env DATABASE_URL="${SU%% target_session*}" \
		REDIS_URL="redis://:$REDISCLI_AUTH@sentinel/0" \
		"$BIN/failover_probe" $((load_s + 60)) "$pr"
	sleep "$WARM_S"
	$fn >>"$T/log/drill-$name.log" 2>&1; frc=$?
	wait "${PIDS[load]}"; unset "PIDS[load]"
	stop_key probe
	FAULT_AT=${FAULT_AT:-$t0}; RECOVERED_AT=${RECOVERED_AT:-$(now)}
	http=$(outage "$tl" "$FAULT_AT" '$2 == "POST"')
	probe_out=$(outage "$pr" "$FAULT_AT" "\$2 == \"$kind\"")
	unavail=$(awk -v a="$http" -v b="$probe_out" 'BEGIN { print (a > b ? a : b) }')
	nreq=$(failed_requests "$tl" "$t0")
	read -r ev evmax evn <<<"$(events_delayed "$FAULT_AT")"
	local due; due=$(fell_due "$FAULT_AT" "$RECOVERED_AT")
	# the checks
	local rurl; read -r rh rp <<<"$(redis_master)"
	rurl=redis://:$REDISCLI_AUTH@$rh:$rp/0
	on lb env DATABASE_URL="$SU" REDIS_URL="$rurl" FAKE_STRIPE_URL="$FAKE_STRIPE_URL" \
		EXPIRATION_GRACE_SECONDS=3 DRAIN_SECONDS=60 "$ROOT/tests/faults/check_invariants.sh" "$RECORD" \
		>"$T/log/check-$name.out" 2>&1; crc=$?
	sed 's/^/  /' "$T/log/check-$name.out"
	inv=$(grep -o '^invariants: [0-9]*/7' "$T/log/check-$name.out" | cut -d' ' -f2)
	local e1 e2
	e1=$(pg_replica_equal) || ok=0
	e2=$(redis_replica_equal) || ok=0
	eq="$e1, $e2"
	[ "$frc" -eq 0 ] || { ok=0; why="$why fault;"; }
	[ "$crc" -eq 0 ] || { ok=0; why="$why invariants;"; }
	awk -v u="$unavail" -v t="$target" 'BEGIN { exit !(u < t) }' || { ok=0; why="$why over the ${target} s target;"; }
	[[ $eq == *differs* ]] && why="$why replica;"
	local res="${FAILOVER_NOTE:-no fault}; writes unavailable ${http} s over HTTP, ${probe_out} s to the $kind client (target < $target s); requests failed $nreq; events delayed ${ev:-?} of ${evn:-?} (longest ${evmax:-?} s); orders falling due in the outage ${due:-?}; rejoined and caught up ${REJOIN_S:-?} s after restart; invariants ${inv:-0/7}; $eq"
	if [ "$ok" = 1 ]; then
		echo "drill $name: ok ($res)" | tee -a "$RESULTS"; passed=$((passed + 1))
	else
		echo "drill $name: FAILED ($res;${why})" | tee -a "$RESULTS"; failed=$((failed + 1))
	fi
}

for d in $DRILLS; do
	if ! declare -F "f_${d//-/_}" >/dev/null; then
		echo "drill $d: FAILED (no such drill)" | tee -a "$RESULTS"; failed=$((failed + 1)); continue
	fi
	drill "$d"
done
echo; echo "== failover drills ($MODE)"; cat "$RESULTS"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
