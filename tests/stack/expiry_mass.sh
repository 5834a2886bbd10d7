#!/usr/bin/env bash
# expiry_mass.sh COUNT: COUNT orders, all due within one second, expire
# through the running stack (scripts/test.sh and scripts/bench.sh).
#
# The orders, their tickets (locked by them), the orders replica and the
# payments replica are seeded straight into Postgres, and the timers into
# the due set, as order:created would have left them. Two extra
# scheduler-only workers run beside the stack's worker while they fall
# due. Passes when every order is cancelled, with exactly one
# order:cancelled event and exactly one expiration:complete entry each,
# and then every ticket is unlocked and the payments replica has every
# order cancelled. Prints the lateness (cancellation time, i.e. the
# order:cancelled outbox row's created_at, minus expires_at) and, if
# MASS_OUT is set, writes "count seconds p50_ms p99_ms max_ms
# seconds_until_tickets_unlocked" there.
#
# Needs: DATA (the stack's env file), BIN (the worker). Optional:
# MASS_TIMEOUT (seconds, default 240).
set -euo pipefail
export LC_ALL=C
count=${1:?usage: expiry_mass.sh COUNT}
: "${DATA:?}" "${BIN:?}"
. "$DATA/env"
timeout=${MASS_TIMEOUT:-240}
user=$(cat /proc/sys/kernel/random/uuid)
rport=${REDIS_URL##*:}; rport=${rport%%/*}
# No nested loops: the checks join 10,000 orders to their outbox events.
q() { PGOPTIONS="-c enable_nestloop=off" psql "$DATABASE_URL" -XAtq -v ON_ERROR_STOP=1 "$@"; }
# Variables (-v) are interpolated only in SQL read from stdin, not in -c.
qv() { local sql=$1; shift; q "$@" <<<"$sql"; }
rc() { redis-cli -p "$rport" "$@"; } # as the default user: REDISCLI_AUTH, from $DATA/env
fail() { echo "expiry-mass: FAILED: $*"; exit 1; }

# ---- seed -------------------------------------------------------------------
payments=$(q -c "SELECT to_regclass('payments.orders') IS NOT NULL")
pay_sql=""
[ "$payments" = t ] && pay_sql=", p AS (INSERT INTO payments.orders (id, version, user_id,
	price_cents, status, expires_at) SELECT oid, 0, :'u', 100, 'created', due FROM s)"
start_ms=$(q -c "SELECT (extract(epoch FROM now()) * 1000)::bigint")
q -v u="$user" -v n="$count" >/dev/null <<SQL
WITH s AS MATERIALIZED (
	SELECT gen_random_uuid() AS tid, gen_random_uuid() AS oid,
		date_trunc('second', now()) + interval '4 s'
			+ make_interval(secs => floor(random() * 1000) / 1000) AS due
	FROM generate_series(1, :n)),
t AS (INSERT INTO tickets.tickets (id, title, price_cents, user_id, order_id, version)
	SELECT tid, 'mass', 100, :'u', oid, 1 FROM s),
r AS (INSERT INTO orders.tickets (id, title, price_cents, version)
	SELECT tid, 'mass', 100, 1 FROM s),
o AS (INSERT INTO orders.orders (id, user_id, status, expires_at, ticket_id)
	SELECT oid, :'u', 'created', due, tid FROM s)
$pay_sql
SELECT 1;
SQL

qv "SELECT 'ZADD', '{expiration:complete}:due',
	(extract(epoch FROM expires_at) * 1000)::bigint, id
	FROM orders.orders WHERE user_id = :'u'" -v u="$user" -F ' ' | awk '{
		printf "*%d\r\n", NF
		for (i = 1; i <= NF; i++) printf "$%d\r\n%s\r\n", length($i), $i
	}' | rc --pipe >"$DATA/log/mass-zadd.log" 2>&1 || fail "ZADD: $(cat "$DATA/log/mass-zadd.log")"
grep -q "errors: 0, replies: $count" "$DATA/log/mass-zadd.log" || fail "timers not seeded"
[ "$(qv "SELECT count(*) FROM orders.orders WHERE user_id = :'u' AND expires_at < now()" \
	-v u="$user")" -eq 0 ] || echo "expiry-mass: warning: seeding took longer than the lead"

# ---- two more schedulers while they fall due -----------------------------------
pids=()
for _ in 1 2; do
	REDIS_URL=$WORKER_REDIS_URL "$BIN/worker" --roles scheduler >>"$DATA/log/worker-extra.log" 2>&1 &
	pids+=($!)
done
stop_extra() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; pids=(); }
trap stop_extra EXIT

t0=$(date +%s.%N)
left=$count
for _ in $(seq $((timeout * 2))); do
	left=$(qv "SELECT count(*) FROM orders.orders WHERE user_id = :'u' AND status = 'created'" -v u="$user")
	[ "$left" -eq 0 ] && break
	sleep 0.5
done
stop_extra
secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
[ "$left" -eq 0 ] || fail "$left of $count orders still created after ${timeout}s"

# ---- the rest of the system: every ticket for sale again, payments' replica ----
held_sql="SELECT (SELECT count(*) FROM tickets.tickets WHERE user_id = :'u' AND order_id IS NOT NULL)"
[ "$payments" = t ] && held_sql="$held_sql + (SELECT count(*) FROM payments.orders
	WHERE user_id = :'u' AND status <> 'cancelled')"
for _ in $(seq $((timeout * 2))); do
	held=$(qv "$held_sql" -v u="$user")
	[ "$held" -eq 0 ] && break
	sleep 0.5
done
all_secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
[ "$held" -eq 0 ] || fail "$held tickets still locked or payments' orders not cancelled after ${timeout}s"

# ---- no doubles ----------------------------------------------------------------------
read -r events bad < <(qv "
	SELECT count(*), count(*) FILTER (WHERE c <> 1) FROM (
		SELECT (e.data->>'id')::uuid AS id, count(*) AS c FROM orders.outbox e
		WHERE e.subject = 'order:cancelled'
		  AND e.created_at >= to_timestamp(:s / 1000.0) - interval '1 s'
		GROUP BY 1) x JOIN orders.orders o ON o.id = x.id AND o.user_id = :'u'" \
	-v u="$user" -v s="$start_ms" -F ' ')
[ "$events" -eq "$count" ] && [ "$bad" -eq 0 ] ||
	fail "$events orders with order:cancelled (want $count), $bad with more than one"
ids=$(mktemp)
qv "SELECT id FROM orders.orders WHERE user_id = :'u' ORDER BY 1" -v u="$user" >"$ids"
fired=$(rc --raw XRANGE expiration:complete "$start_ms" + | grep -o '"orderId":"[^"]*"' |
	cut -d'"' -f4 | sort | uniq -c | awk '{print $1, $2}' | join -1 2 -2 1 - "$ids" -o 1.1 | sort | uniq -c)
rm -f "$ids"
[ "$(echo "$fired" | awk '{print $1, $2}')" = "$count 1" ] ||
	fail "expiration:complete per order (count x entries): $fired"

# ---- lateness ----------------------------------------------------------------------
read -r p50 p99 max < <(qv "
	SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY l)), round(percentile_cont(0.99)
		WITHIN GROUP (ORDER BY l)), round(max(l)) FROM (
		SELECT extract(epoch FROM e.created_at - o.expires_at) * 1000 AS l
		FROM orders.orders o JOIN (SELECT (data->>'id')::uuid AS id, created_at
			FROM orders.outbox WHERE subject = 'order:cancelled'
			AND created_at >= to_timestamp($start_ms / 1000.0) - interval '1 s') e
		ON e.id = o.id WHERE o.user_id = :'u') x" -v u="$user" -F ' ')
echo "expiry-mass: $count orders cancelled once each (${secs}s); lateness p50=${p50}ms p99=${p99}ms max=${max}ms; tickets unlocked (${all_secs}s)"
[ -z "${MASS_OUT:-}" ] || echo "$count $secs $p50 $p99 $max $all_secs" >"$MASS_OUT"
