#!/usr/bin/env bash
# netns.sh: the app on four simulated hosts (network namespaces), one app host killed under load.
#
#   tests/faults/netns.sh        (root: ip netns; run by scripts/faults.sh full)
#
# Layout, on 10.77.0.0/24 between our own namespaces only (a fifth
# namespace holds the bridge; nothing is added to the root namespace but
# transient veth names):
#   lb    10.77.0.1  nginx :8080, upstreams of two servers each over FastCGI/TCP
#   app1  10.77.0.2  auth :9001, tickets :9002, orders :9003, payments :9004
#   app2  10.77.0.3  (ops :9005 if built) and a worker, on each app host;
#                    FCGI_WEB_SERVER_ADDRS=10.77.0.1: only nginx may talk
#   db    10.77.0.4  Postgres :5432 and Redis :6379 (AOF always)
#
# Under the mixed load of tests/faults/load.c (run inside lb), after 6 s
# app1 dies: every process on it gets SIGKILL and its link goes down. 10 s
# later it returns (link up, programs started again) and the load goes on
# for 9 s more. What must hold:
#   - every GET succeeds (nginx passes an idempotent request to the other
#     server on error or timeout: fastcgi_next_upstream error timeout);
#   - no POST takes effect twice (nginx never re-sends a POST that reached
#     a backend; every ticket title of the load exists at most once);
#   - the invariants I1-I7 after the host returned (check_invariants.sh).
# Prints "netns: ..." figures and "drill multi-host: ok|FAILED (...)".
# Every process is stopped by its PID and the namespaces deleted (trap).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/build/release/bin}
if [ "$(id -u)" != 0 ]; then
	echo "netns: needs root (ip netns); run it as root or skip it"
	echo "drill multi-host: FAILED (not root)"
	exit 1
fi
for t in ip nginx redis-server psql; do
	command -v "$t" >/dev/null || { echo "drill multi-host: FAILED (no $t)"; exit 1; }
done
T=$(mktemp -d /tmp/tixnetns.XXXXXX)
chmod 0755 "$T"
mkdir -p "$T/log" "$T/nginx"
P=tx$$
NS_LB=${P}lb NS_A1=${P}a1 NS_A2=${P}a2 NS_DB=${P}db NS_SW=${P}sw
NET=10.77.0
LB=$NET.1 A1=$NET.2 A2=$NET.3 DB=$NET.4
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
LOAD_S=${NETNS_LOAD_SECONDS:-25}
export JWT_KEY=${JWT_KEY:-$(head -c 48 /dev/urandom | base64 -w0)}
declare -A PIDS=() # "host name" -> pid

# A command in a namespace. In the background, call ip netns exec itself:
# "in_ns ... &" would fork a subshell, $! would be that subshell, and a
# kill by PID would leave the program running.
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
cleanup() {
	local k
	for k in "${!PIDS[@]}"; do { kill -KILL "${PIDS[$k]}"; wait "${PIDS[$k]}"; } 2>/dev/null; done
	[ -s "$T/nginx.pid" ] && kill -QUIT "$(cat "$T/nginx.pid")" 2>/dev/null
	[ -s "$T/redis.pid" ] && kill -TERM "$(cat "$T/redis.pid")" 2>/dev/null
	[ -s "$T/pg/data/postmaster.pid" ] &&
		runuser -u postgres -- "$PGBIN/pg_ctl" -D "$T/pg/data" -m fast -w -t 30 stop >/dev/null 2>&1
	sleep 0.3
	for ns in $NS_LB $NS_A1 $NS_A2 $NS_DB $NS_SW; do ip netns del "$ns" 2>/dev/null; done
	if [ "${ok:-0}" = 1 ] && [ -z "${KEEP_TEST_DATA:-}" ]; then rm -rf "$T"; else echo "netns: logs in $T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the network ----------------------------------------------------------------------
ip netns add "$NS_SW" && in_ns "$NS_SW" ip link add br0 type bridge &&
	in_ns "$NS_SW" ip link set br0 up && in_ns "$NS_SW" ip link set lo up || exit 1
i=0
for ns in $NS_LB $NS_A1 $NS_A2 $NS_DB; do
	i=$((i + 1))
	ip netns add "$ns" || exit 1
	ip link add "${P}h$i" type veth peer name "${P}s$i" || exit 1
	ip link set "${P}h$i" netns "$ns" && ip link set "${P}s$i" netns "$NS_SW" || exit 1
	in_ns "$ns" ip link set "${P}h$i" name e0
	in_ns "$ns" ip addr add "$NET.$i/24" dev e0
	in_ns "$ns" ip link set e0 up && in_ns "$ns" ip link set lo up
	in_ns "$NS_SW" ip link set "${P}s$i" master br0 up
done
# reachable: a closed port on db answers "refused" at once (no ping here)
reach() { [[ $(in_ns "$NS_LB" timeout 1 bash -c "exec 3<>/dev/tcp/$DB/9" 2>&1) == *refused* ]]; }
for _ in $(seq 20); do reach && break; sleep 0.25; done
reach || { echo "drill multi-host: FAILED (no network)"; exit 1; }

# ---- the data host ------------------------------------------------------------------
mkdir -p "$T/pg" "$T/redis" && chown postgres:postgres "$T/pg"
runuser -u postgres -- "$PGBIN/initdb" -D "$T/pg/data" -U postgres -A trust -E UTF8 \
	--locale=C.UTF-8 >"$T/log/initdb.log" 2>&1 || exit 1
echo "host all all $NET.0/24 trust" >>"$T/pg/data/pg_hba.conf"
in_ns "$NS_DB" runuser -u postgres -- "$PGBIN/pg_ctl" -D "$T/pg/data" -l "$T/pg/server.log" -w -t 60 \
	-o "-k $T/pg -p 5432 -c listen_addresses=$DB -c max_connections=200" start >/dev/null || exit 1
SU="host=$DB port=5432 user=postgres"
in_ns "$NS_LB" psql "$SU dbname=postgres" -Xqc "CREATE DATABASE ticketing" >/dev/null || exit 1
in_ns "$NS_LB" "$ROOT/scripts/migrate.sh" "$SU dbname=ticketing" >"$T/log/migrate.log" 2>&1 || exit 1
# Redis with the installed users (deploy/redis/), a password each.
"$ROOT/scripts/redis-users.sh" "$T/secrets.env" "$T/redis/users.conf" || exit 1
secret() { sed -n "s/^REDIS_$1_PASSWORD=//p" "$T/secrets.env"; }
redis_url() { echo "redis://${1:+ticketing-$1}:$(secret "${2:-ADMIN}")@$DB:6379/0"; }
in_ns "$NS_DB" redis-server "$T/redis/users.conf" --bind "$DB" --port 6379 --protected-mode no \
	--dir "$T/redis" --appendonly yes --appendfsync always --save '' --daemonize yes \
	--pidfile "$T/redis.pid" --logfile "$T/log/redis.log" >/dev/null || exit 1

# ---- the app hosts ------------------------------------------------------------------
# The default user's URL, for check_invariants.sh; each program gets its own.
export REDIS_URL=$(redis_url) TEMPLATE_DIR=$ROOT/templates
export EXPIRATION_WINDOW_SECONDS=8 EXPIRATION_GRACE_SECONDS=3 ACK_WAIT_MS=1000
export PASSWORD_COST=min PAYMENT_PROVIDER=test FCGI_WEB_SERVER_ADDRS=$LB
for s in auth tickets orders payments; do
	export "${s^^}_DATABASE_URL=host=$DB port=5432 dbname=ticketing user=$s"
done
prog_redis_url() {
	case $1 in tickets) redis_url tickets TICKETS ;; ops) redis_url ops OPS ;; *) echo ;; esac
}
declare -A PORTS=([auth]=9001 [tickets]=9002 [orders]=9003 [payments]=9004 [ops]=9005)
host_up() { # ns addr tag
	local s
	for s in "${!PORTS[@]}"; do
		[ -x "$BIN/$s" ] || continue
		ip netns exec "$1" env REDIS_URL="$(prog_redis_url "$s")" \
			"$BIN/$s" --socket "$2:${PORTS[$s]}" --threads 4 </dev/null >>"$T/log/$3-$s.log" 2>&1 &
		PIDS["$3 $s"]=$!
	done
	ip netns exec "$1" env REDIS_URL="$(redis_url worker WORKER)" \
		"$BIN/worker" </dev/null >>"$T/log/$3-worker.log" 2>&1 &
	PIDS["$3 worker"]=$!
}
host_kill() { # tag
	local k
	for k in "${!PIDS[@]}"; do
		[ "${k%% *}" = "$1" ] || continue
		{ kill -KILL "${PIDS[$k]}"; wait "${PIDS[$k]}"; } 2>/dev/null
		unset "PIDS[$k]"
	done
}
host_up "$NS_A1" "$A1" app1
host_up "$NS_A2" "$A2" app2

# ---- the load balancer ----------------------------------------------------------------
# nginx.conf.in with each unix-socket upstream replaced by the two hosts.
: >"$T/nginx/limit-zone.conf"; : >"$T/nginx/limit.conf"
echo "allow 127.0.0.1; deny all;" >"$T/nginx/ops-allow.conf"
cp -R "$ROOT/static" "$T/static" && chmod -R a+rX "$T/static"
{ sed -e "s|@RUN@|$T|g" "$ROOT/nginx/fastcgi.conf.in"
  echo "fastcgi_next_upstream error timeout;"; } >"$T/nginx/fastcgi.conf"
ups=""
for s in "${!PORTS[@]}"; do
	ups="$ups	upstream $s { server $A1:${PORTS[$s]} max_fails=1 fail_timeout=5s; server $A2:${PORTS[$s]} max_fails=1 fail_timeout=5s; }\n"
done
sed -e '/^[[:space:]]*upstream [a-z]* { server unix:/d' \
	-e "s|^\([[:space:]]*\)server {|$ups\1server {|" \
	-e "s|listen 127.0.0.1:@PORT@;|listen $LB:8080;|" \
	-e "s|@RUN@|$T|g" -e "s|@ROOT@|$ROOT|g" -e "s|@LOG@|$T/log|g" \
	-e "s|@MAX_BODY@|102400|g" -e "s|@USER_LINE@|user www-data;|" \
	-e "s|@CSP_STRIPE_SCRIPT@||" -e "s|@CSP_STRIPE_MORE@||" \
	"$ROOT/nginx/nginx.conf.in" >"$T/nginx/nginx.conf"
# The app hosts take a moment to connect; nginx starts once tickets answers.
in_ns "$NS_LB" nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" -e "$T/log/nginx-error.log" || exit 1
BASE=http://$LB:8080
for _ in $(seq 100); do
	[ "$(in_ns "$NS_LB" curl -s -o /dev/null -w '%{http_code}' "$BASE/api/tickets")" = 200 ] && break
	sleep 0.1
done

# ---- the drill ------------------------------------------------------------------------
REC=$T/records
: >"$REC"
TAG=netns-$$
ip netns exec "$NS_LB" env TEST_BASE_URL=$BASE "$BIN/load" "$LOAD_S" 6 "$REC" "$TAG" >"$T/log/load.out" 2>&1 &
load_pid=$!
sleep 6
echo "netns: app1 down at $(date +%T)"
host_kill app1
in_ns "$NS_A1" ip link set e0 down
sleep 10
in_ns "$NS_A1" ip link set e0 up
host_up "$NS_A1" "$A1" app1
echo "netns: app1 back at $(date +%T)"
wait "$load_pid"
cat "$T/log/load.out"
line=$(grep '^load:' "$T/log/load.out")
val() { grep -o " $1=[0-9]*" <<<"$line" | cut -d= -f2; }

# POSTs: tickets the load was told were created, and rows that exist.
t201=$(awk '$1 == "ticket"' "$REC" | wc -l)
read -r rows titles <<<"$(in_ns "$NS_LB" psql "$SU dbname=ticketing" -XAtq -F' ' -c \
	"SELECT count(*), count(DISTINCT title) FROM tickets.tickets WHERE title LIKE '$TAG-%'")"
# Served by each host (nginx's access log does not say; the programs' logs do).
served() { cat "$T"/log/"$1"-*.log 2>/dev/null | grep -c ' status=' ; }
echo "netns: GET $(val get_ok)/$(val get) ok ($(val get_fail) failed); POST $(val post) ($(val post_5xx) 5xx or no answer)"
echo "netns: tickets: ${t201} answered 201, ${rows} rows, ${titles} distinct titles; orders: $(val orders) answered 201, $(val paid) paid"
echo "netns: requests logged by app1 $(served app1), by app2 $(served app2)"
DATABASE_URL="$SU dbname=ticketing" DRAIN_SECONDS=60 in_ns "$NS_LB" \
	"$ROOT/tests/faults/check_invariants.sh" "$REC" >"$T/log/check.out" 2>&1
crc=$?
sed 's/^/  /' "$T/log/check.out"
inv=$(grep -o '^invariants: [0-9]*/7' "$T/log/check.out" | cut -d' ' -f2)
res="requests: $(val requests), GET failed: $(val get_fail), POST 5xx: $(val post_5xx), tickets 201: $t201, rows: $rows, invariants: ${inv:-0/7}"
if [ "$crc" = 0 ] && [ "$(val get_fail)" = 0 ] && [ "$rows" = "$titles" ] && [ "$rows" -ge "$t201" ] &&
	[ "$(val get)" -gt 0 ]; then
	ok=1; echo "drill multi-host: ok ($res)"
else
	echo "drill multi-host: FAILED ($res)"; exit 1
fi
