#!/usr/bin/env bash
# check_invariants.sh: the invariants I1-I7 of reliability.md 3 over Postgres and Redis.
#
#   tests/faults/check_invariants.sh [RECORD_FILE]
#
# Waits (at most twice DRAIN_SECONDS, default 60) until the events have drained:
# no unpublished outbox row, no entry pending or undelivered in any group,
# no created order due to expire within DRAIN_SECONDS (its expiry chain is
# still to come), idle at two looks 1 s apart,
# no created order overdue; then checks once and prints one line per
# invariant, "I<n> <name>: ok|VIOLATED (details)", and a last line
# "invariants: K/7". Exit 0 when all seven hold, 1 otherwise.
#
#   I1 at most one live order (created, awaiting:payment, complete) per ticket
#   I2 every order, ticket and payment that got a 201 (RECORD_FILE lines
#      "order ID", "ticket ID TITLE", "paid ORDER_ID", from
#      tests/faults/load.c) exists (a paid order has its payment), and no
#      title of the load exists twice (a POST never took effect twice)
#   I3 every outbox row is published, and every event (outbox rows, and
#      the expiration:complete stream, which has no outbox) is in the
#      processed-events table of each group whose stream it is on exactly
#      once (expiration-service, Redis-only: in its seen set), unless it
#      is in the dead-letter stream; and every group the listener tables
#      subscribe (SUBSCRIPTIONS) exists on its stream
#   I4 nothing pending or undelivered in any group (the dead-letter count is
#      printed: a dead letter is acked, so it is not pending)
#   I5 every complete order has exactly one payment, not refunded; every
#      cancelled order's payment (if any) is refunded; no payment for an
#      order that is neither; with FAKE_STRIPE_URL, the provider agrees:
#      per order, unrefunded charges = 1 for complete orders (the recorded
#      one), 0 otherwise; no charge attempt left open (the settler ran)
#   I6 no created order overdue by more than EXPIRATION_GRACE_SECONDS + 5 s
#   I7 every replica equals its source: orders.tickets = tickets.tickets
#      (title, price, version); payments.orders = orders.orders (status and
#      version for created and cancelled orders; a complete order, whose
#      completion sends no event, is "created" there with a lower version);
#      tickets.tickets.order_id = the ticket's live order, if any; a
#      ticket is sold (sold_at, from payment:created) exactly when that
#      order is complete
#
# Environment: DATABASE_URL (a superuser conninfo; $DATA/env has it),
# REDIS_URL (redis://[[user]:password@]host:port/db, a user that may run
# XINFO, XRANGE, ZRANGE, EXISTS), REDIS_PREFIX (default empty),
# EXPIRATION_GRACE_SECONDS (default 30), FAKE_STRIPE_URL (optional),
# DRAIN_SECONDS.
set -uo pipefail
RECORD=${1:-}
: "${DATABASE_URL:?}" "${REDIS_URL:?}"
PFX=${REDIS_PREFIX:-}
GRACE=${EXPIRATION_GRACE_SECONDS:-30}
DRAIN=${DRAIN_SECONDS:-60}
SUBJECTS="ticket:created ticket:updated order:created order:cancelled expiration:complete payment:created"
# subject,group of every listener (lib/*/listeners.c)
SUBSCRIPTIONS="ticket:created,orders-service ticket:updated,orders-service
order:created,tickets-service order:created,payments-service order:created,expiration-service
order:cancelled,tickets-service order:cancelled,payments-service
expiration:complete,orders-service payment:created,orders-service payment:created,tickets-service"
LIVE="('created', 'awaiting:payment', 'complete')"

hp=${REDIS_URL#redis://}; hp=${hp%%/*}; db=${REDIS_URL##*/}
[[ $db =~ ^[0-9]+$ ]] || db=0
# [user]:password@ (not %-escaped: the stacks' passwords need none);
# redis-cli reads the password from REDISCLI_AUTH, never the command line.
ruser=
if [[ $hp == *@* ]]; then
	cred=${hp%@*}; hp=${hp##*@}; ruser=${cred%%:*}
	export REDISCLI_AUTH=${cred#*:}
fi
rcli() { redis-cli -h "${hp%:*}" -p "${hp##*:}" ${ruser:+--user "$ruser"} -n "$db" "$@" 2>/dev/null; }
rc() { rcli --no-raw "$@"; }
rraw() { rcli --raw "$@"; }
q() { psql "$DATABASE_URL" -XAtq -v ON_ERROR_STOP=1 "$@"; }

TMP=$(mktemp -d /tmp/tixcheck.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# schema of a group's processed_events ("" for a Redis-only group)
schema_of() { case $1 in tickets-service) echo tickets ;; orders-service) echo orders ;;
	payments-service) echo payments ;; *) echo "" ;; esac; }

# "stream group pending lag" per group of every stream. Undelivered means
# a last-delivered-id short of the stream's last id; Redis's own lag count
# (entries-read) is only a hint: after a Sentinel failover it stays high
# though everything was delivered (a group's reads on the old master are
# not counted on the new one).
groups() {
	local s key last
	for s in $SUBJECTS; do
		key=$PFX$s
		[ "$(rraw EXISTS "$key")" = 1 ] || continue
		last=$(rraw XINFO STREAM "$key" | awk 'prev == "last-generated-id" { print; exit } { prev = $0 }')
		rraw XINFO GROUPS "$key" | awk -v s="$s" -v last="$last" '
			prev == "name" { g = $0 } prev == "pending" { p = $0 }
			prev == "last-delivered-id" { d = $0 }
			prev == "lag" { l = (d == last ? 0 : $0 != "" && $0 != "0" ? $0 : -1); print s, g, p, l }
			{ prev = $0 }'
	done
}

unpublished() {
	q -c "SELECT (SELECT count(*) FROM tickets.outbox WHERE published_at IS NULL)
		+ (SELECT count(*) FROM orders.outbox WHERE published_at IS NULL)
		+ (SELECT count(*) FROM payments.outbox WHERE published_at IS NULL)" 2>/dev/null || echo -1
}
overdue() {
	q -c "SELECT count(*) FROM orders.orders WHERE status = 'created'
		AND expires_at < now() - make_interval(secs => $GRACE + 5)" 2>/dev/null || echo -1
}
# Created orders that will expire within the drain bound: their expiry
# chain (expiration:complete, order:cancelled, ticket:updated) is still to
# come, so the events are not drained until they are gone.
expiring() {
	q -c "SELECT count(*) FROM orders.orders WHERE status = 'created'
		AND expires_at < now() + make_interval(secs => $DRAIN)" 2>/dev/null || echo -1
}
# Charge attempts nobody settled yet (a request died around the provider
# call): the worker's settler records or refunds them.
open_attempts() {
	q -c "SELECT count(*) FROM payments.charge_attempts WHERE outcome IS NULL" 2>/dev/null || echo -1
}
busy() { # non-empty when something is still moving
	local u o e a g
	u=$(unpublished); o=$(overdue); e=$(expiring); a=$(open_attempts)
	g=$(groups | awk '$3 != 0 || $4 != 0')
	[ "$u" = 0 ] && [ "$o" = 0 ] && [ "$e" = 0 ] && [ "$a" = 0 ] && [ -z "$g" ] && return 1
	echo "unpublished=$u overdue=$o expiring=$e open_attempts=$a ${g//$'\n'/; }"
}

# ---- drain -------------------------------------------------------------------
# Drained = idle at two looks 1 s apart.
start=$SECONDS idle=0 why=
while [ "$idle" -lt 2 ]; do
	if why=$(busy); then idle=0; else idle=$((idle + 1)); fi
	if [ $((SECONDS - start)) -ge "$((DRAIN * 2))" ]; then
		echo "drain: not drained after $((SECONDS - start))s: $why"
		break
	fi
	[ "$idle" -lt 2 ] && sleep 1
done
[ "$idle" -ge 2 ] && echo "drain: ok ($((SECONDS - start))s)"

ok=0
sum() { # the sum of the arguments; anything not a count (a failed query) counts 1
	local t=0 v
	for v; do [[ $v =~ ^[0-9]+$ ]] || v=1; t=$((t + v)); done
	echo "$t"
}
line() { # n name count details
	if [ "$3" = 0 ]; then echo "I$1 $2: ok${4:+ ($4)}"; ok=$((ok + 1))
	else echo "I$1 $2: VIOLATED ($3${4:+; $4})"; fi
}

# ---- I1 ------------------------------------------------------------------------
n=$(q -c "SELECT count(*) FROM (SELECT ticket_id FROM orders.orders
	WHERE status IN $LIVE GROUP BY 1 HAVING count(*) > 1) d")
line 1 "one live order per ticket" "$(sum "${n:-x}")" "$(q -c "SELECT count(*) FROM orders.orders") orders"

# ---- I2 ------------------------------------------------------------------------
if [ -n "$RECORD" ] && [ -s "$RECORD" ]; then
	awk '$1 == "order" { print $2 }' "$RECORD" | sort -u >"$TMP/orders"
	awk '$1 == "ticket" { print $2 "\t" $3 }' "$RECORD" | sort -u >"$TMP/tickets"
	awk '$1 == "paid" { print $2 }' "$RECORD" | sort -u >"$TMP/paid"
	n=$(q -c "CREATE TEMP TABLE o201 (id uuid)" -c "CREATE TEMP TABLE t201 (id uuid, title text)" \
		-c "CREATE TEMP TABLE p201 (id uuid)" -c "\\copy p201 FROM '$TMP/paid'" \
		-c "\\copy o201 FROM '$TMP/orders'" -c "\\copy t201 FROM '$TMP/tickets'" \
		-c "SELECT (SELECT count(*) FROM o201 WHERE id NOT IN (SELECT id FROM orders.orders))
			+ (SELECT count(*) FROM t201 WHERE id NOT IN (SELECT id FROM tickets.tickets))
			+ (SELECT count(*) FROM p201 WHERE id NOT IN (SELECT order_id FROM payments.payments))
			+ (SELECT count(*) FROM (SELECT title FROM tickets.tickets WHERE title IN
				(SELECT title FROM t201) GROUP BY 1 HAVING count(*) > 1) d)" | tail -1)
	line 2 "every 201 exists, no POST twice" "$(sum "${n:-x}")" \
		"$(wc -l <"$TMP/orders") orders, $(wc -l <"$TMP/tickets") tickets, $(wc -l <"$TMP/paid") payments acknowledged"
else
	line 2 "every 201 exists" 0 "no record file"
fi

# ---- I3 ------------------------------------------------------------------------
# subscriptions from Redis: "subject,group"; dead letters: "id,group"
for s in $SUBJECTS; do
	[ "$(rraw EXISTS "$PFX$s")" = 1 ] || continue
	rraw XINFO GROUPS "$PFX$s" | awk -v s="$s" 'prev == "name" { print s "," $0 } { prev = $0 }'
done >"$TMP/subs"
rraw XRANGE "${PFX}dead-letter" - + | awk '
	prev == "id" { id = $0 } prev == "group" { g = $0 }
	prev == "entry" { print id "," g } { prev = $0 }' >"$TMP/dead"
dead=$(wc -l <"$TMP/dead")
# expiration:complete entries (no outbox): their event ids
rraw XRANGE "${PFX}expiration:complete" - + | awk 'prev == "id" { print $0 } { prev = $0 }' \
	| sort -u >"$TMP/expiry_ids"
# the Redis-only group: its seen set holds the order:created ids it applied
rraw ZRANGE "${PFX}{${PFX}expiration:complete}:seen" 0 -1 | sort -u >"$TMP/seen"
n=$(q -c "CREATE TEMP TABLE subs (subject text, grp text)" \
	-c "CREATE TEMP TABLE dead (id text, grp text)" \
	-c "CREATE TEMP TABLE exp_ids (id uuid)" -c "CREATE TEMP TABLE seen (id text)" \
	-c "\\copy subs FROM '$TMP/subs' (FORMAT csv)" -c "\\copy dead FROM '$TMP/dead' (FORMAT csv)" \
	-c "\\copy exp_ids FROM '$TMP/expiry_ids'" -c "\\copy seen FROM '$TMP/seen'" \
	-c "WITH ev AS (
		SELECT event_id, subject, published_at FROM tickets.outbox UNION ALL
		SELECT event_id, subject, published_at FROM orders.outbox UNION ALL
		SELECT event_id, subject, published_at FROM payments.outbox UNION ALL
		SELECT id, 'expiration:complete', now() FROM exp_ids),
	pe AS (
		SELECT event_id, group_name FROM tickets.processed_events UNION ALL
		SELECT event_id, group_name FROM orders.processed_events UNION ALL
		SELECT event_id, group_name FROM payments.processed_events),
	need AS (SELECT ev.event_id, s.grp FROM ev JOIN subs s USING (subject)
		WHERE s.grp <> 'expiration-service'),
	bad AS (SELECT n.event_id, n.grp FROM need n
		LEFT JOIN pe ON pe.event_id = n.event_id AND pe.group_name = n.grp
		GROUP BY 1, 2 HAVING count(pe.event_id) <> 1),
	exp_bad AS (SELECT ev.event_id FROM ev JOIN subs s USING (subject)
		WHERE s.grp = 'expiration-service' AND ev.event_id::text NOT IN (SELECT id FROM seen))
	SELECT (SELECT count(*) FROM ev WHERE published_at IS NULL) || ' ' ||
		(SELECT count(*) FROM bad b WHERE NOT EXISTS (SELECT 1 FROM dead d
			WHERE d.id = b.event_id::text AND d.grp = b.grp)) || ' ' ||
		(SELECT count(*) FROM exp_bad e WHERE NOT EXISTS (SELECT 1 FROM dead d
			WHERE d.id = e.event_id::text AND d.grp = 'expiration-service')) || ' ' ||
		(SELECT count(*) FROM ev) || ' ' || (SELECT count(*) FROM need)" | tail -1)
read -r unpub missing expmiss nev nneed <<<"${n:-x x x x x}"
nosub=0
for sub in $SUBSCRIPTIONS; do grep -qxF "$sub" "$TMP/subs" || nosub=$((nosub + 1)); done
line 3 "published, applied once per group" "$(sum "$unpub" "$missing" "$expmiss" "$nosub")" \
	"events $nev, deliveries $nneed; unpublished $unpub, missing $missing, expiration missing $expmiss, dead letters $dead, subscriptions missing $nosub"

# ---- I4 ------------------------------------------------------------------------
groups >"$TMP/groups"
n=$(awk '$3 != 0 || $4 != 0' "$TMP/groups" | wc -l)
line 4 "nothing pending after drain" "$n" \
	"$(wc -l <"$TMP/groups") groups; dead letters $dead$( [ "$n" = 0 ] || echo "; $(awk '$3 != 0 || $4 != 0 { printf "%s/%s pending=%s lag=%s ", $1, $2, $3, $4 }' "$TMP/groups")")"

# ---- I5 ------------------------------------------------------------------------
i5_sql="SELECT count(*) + (SELECT count(*) FROM payments.charge_attempts WHERE outcome IS NULL)
	FROM orders.orders o LEFT JOIN payments.payments p ON p.order_id = o.id
	WHERE (o.status = 'complete' AND (p.id IS NULL OR p.refund_id IS NOT NULL))
	   OR (o.status = 'cancelled' AND p.id IS NOT NULL AND p.refund_id IS NULL)
	   OR (o.status NOT IN ('complete', 'cancelled') AND p.id IS NOT NULL)"
extra=""
if [ -n "${FAKE_STRIPE_URL:-}" ] &&
	curl -fsS --max-time 10 "$FAKE_STRIPE_URL/_control/charges" >"$TMP/charges.json"; then
	jq -r '.charges[] | [.metadata.orderId // "", .id, (if .refunded then "t" else "f" end)] | @csv' \
		"$TMP/charges.json" >"$TMP/charges.csv"
	n=$(q -c "CREATE TEMP TABLE ch (order_id text, id text, refunded boolean)" \
		-c "\\copy ch FROM '$TMP/charges.csv' (FORMAT csv)" \
		-c "WITH net AS (SELECT o.id, o.status, p.provider_charge_id pc,
				count(ch.id) FILTER (WHERE NOT ch.refunded) live,
				bool_or(ch.id = p.provider_charge_id AND NOT ch.refunded) recorded
			FROM orders.orders o LEFT JOIN payments.payments p ON p.order_id = o.id
			LEFT JOIN ch ON ch.order_id = o.id::text GROUP BY 1, 2, 3)
		SELECT ($i5_sql) || ' ' ||
			(SELECT count(*) FROM net WHERE (status = 'complete' AND (live <> 1 OR NOT coalesce(recorded, false)))
				OR (status <> 'complete' AND live <> 0)) || ' ' ||
			(SELECT count(*) FROM ch) || ' ' || (SELECT count(*) FROM ch WHERE refunded) || ' ' ||
			coalesce((SELECT string_agg(id || '=' || status || '/' || live, ',') FROM (SELECT * FROM net
				WHERE (status = 'complete' AND (live <> 1 OR NOT coalesce(recorded, false)))
				OR (status <> 'complete' AND live <> 0) LIMIT 3) b), '-')" | tail -1)
	read -r dbbad provbad nch nref which <<<"${n:-x x x x -}"
	extra="provider: $nch charges, $nref refunded, $provbad orders disagree"
	[ "${which:--}" = - ] || extra="$extra: $which (order=status/unrefunded charges)"
	n=$(sum "$dbbad" "$provbad")
else
	n=$(q -c "$i5_sql")
fi
line 5 "one charge per complete order, net 0 when cancelled" "$(sum "${n:-x}")" \
	"$(q -c "SELECT count(*) FILTER (WHERE status = 'complete') || ' complete, ' ||
		count(*) FILTER (WHERE status = 'cancelled') || ' cancelled' FROM orders.orders")${extra:+; $extra}"

# ---- I6 ------------------------------------------------------------------------
line 6 "no created order overdue" "$(sum "$(overdue)")" "grace ${GRACE}s + 5 s"

# ---- I7 ------------------------------------------------------------------------
n=$(q -c "SELECT
	(SELECT count(*) FROM tickets.tickets t FULL JOIN orders.tickets r USING (id)
		WHERE r.id IS NULL OR t.id IS NULL OR r.title <> t.title
		OR r.price_cents <> t.price_cents OR r.version <> t.version) || ' ' ||
	(SELECT count(*) FROM orders.orders o FULL JOIN payments.orders p USING (id)
		WHERE p.id IS NULL OR o.id IS NULL
		OR (o.status IN ('created', 'cancelled') AND (p.status <> o.status OR p.version <> o.version))
		OR (o.status = 'complete' AND (p.status <> 'created' OR p.version >= o.version))) || ' ' ||
	(SELECT count(*) FROM tickets.tickets t LEFT JOIN orders.orders o
		ON o.ticket_id = t.id AND o.status IN $LIVE
		WHERE t.order_id IS DISTINCT FROM o.id) || ' ' ||
	(SELECT count(*) FROM tickets.tickets t LEFT JOIN orders.orders o
		ON o.ticket_id = t.id AND o.status IN $LIVE
		WHERE (t.sold_at IS NOT NULL) <> (o.status IS NOT DISTINCT FROM 'complete'))")
read -r tk od lock sold <<<"${n:-x x x x}"
line 7 "replicas equal their sources" "$(sum "$tk" "$od" "$lock" "$sold")" \
	"tickets replica $tk, orders replica $od, reservations $lock, sales $sold differ"

echo "invariants: $ok/7"
[ "$ok" = 7 ]
