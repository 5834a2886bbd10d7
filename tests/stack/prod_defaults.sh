#!/usr/bin/env bash
# prod_defaults.sh: production defaults that fail closed (issue 16, attack
# 8), against the running stack ($DATA/env) and the programs in $BIN:
#   - the attack: a local process without Redis credentials XADDs a forged
#     payment:created for a real unpaid order; Redis must refuse it and the
#     order must stay unpaid;
#   - a program's own Redis user cannot forge one either (tickets: NOPERM);
#   - Redis listens on loopback only;
#   - payments and the worker refuse to start without PAYMENT_PROVIDER,
#     naming the variable (auth, which takes no payments, starts).
# Needs DATA, BIN, JWT_KEY; ends with "N passed, N failed".
set -uo pipefail
: "${DATA:?}" "${BIN:?}" "${JWT_KEY:?}"
. "$DATA/env"
passed=0 failed=0
check() { # name, 0 if ok, detail
	if [ "$2" -eq 0 ]; then echo "ok: $1"; passed=$((passed + 1))
	else echo "FAILED: $1: $3"; failed=$((failed + 1)); fi
}
hp=${REDIS_URL#redis://}; hp=${hp##*@}; hp=${hp%%/*}
rhost=${hp%:*} rport=${hp##*:}
# redis-cli with no credentials at all, as any local process could run it.
anon() { env -u REDISCLI_AUTH redis-cli -h "$rhost" -p "$rport" "$@" 2>&1; }
T=$(mktemp -d /tmp/tixprod.XXXXXX)
trap 'rm -rf "$T"' EXIT

# ---- the forged payment ------------------------------------------------------
api() { # method path [json]: prints "STATUS BODY"
	local out
	out=$(curl -s -m 10 -b "$T/jar" -c "$T/jar" -X "$1" -H 'Content-Type: application/json' \
		${3:+-d "$3"} -w '\n%{http_code}' "$BASE_URL$2")
	echo "${out##*$'\n'} ${out%$'\n'*}"
}
# a field of the JSON object on stdin
field() { node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
	try { console.log(JSON.parse(s)[process.argv[1]] ?? ""); } catch { console.log(""); } })' "$1"; }
email="forge-$RANDOM$RANDOM@test.com"
api POST /api/users/signup "{\"email\":\"$email\",\"password\":\"password\"}" >/dev/null
r=$(api POST /api/tickets '{"title":"forged payment","price":10}')
ticket=$(field id <<<"${r#* }")
order=
for _ in $(seq 100); do # until the ticket reached the orders service
	r=$(api POST /api/orders "{\"ticketId\":\"$ticket\"}")
	[ "${r%% *}" = 201 ] && { order=$(field id <<<"${r#* }"); break; }
	sleep 0.1
done
if [ -z "$order" ]; then
	check "an order to pay" 1 "ticket ${ticket:-none}, last answer ${r:0:200}"
else
	ev=$(cat /proc/sys/kernel/random/uuid)
	data="{\"id\":\"$ev\",\"orderId\":\"$order\",\"stripeId\":\"ch_forged\"}"
	out=$(anon XADD "${REDIS_PREFIX:-}payment:created" '*' id "$ev" data "$data")
	grep -q NOAUTH <<<"$out"
	check "an unauthenticated XADD payment:created is refused" $? "redis-cli said: $out"
	pw=${TICKETS_REDIS_URL:-}; pw=${pw#redis://ticketing-tickets:}; pw=${pw%@*}
	out=$(REDISCLI_AUTH=$pw redis-cli -h "$rhost" -p "$rport" --user ticketing-tickets \
		XADD "${REDIS_PREFIX:-}payment:created" '*' id "$ev" data "$data" 2>&1)
	grep -q NOPERM <<<"$out"
	check "the tickets program's Redis user cannot XADD payment:created" $? "redis-cli said: $out"
	sleep 3 # the orders listener would have completed it by now
	r=$(api GET "/api/orders/$order")
	[ "$(field status <<<"${r#* }")" = created ]
	check "the order stays unpaid" $? "order $order: ${r:0:300}"
fi
bind=$(redis-cli -h "$rhost" -p "$rport" --raw CONFIG GET bind 2>&1 | tail -1)
[ "$bind" = 127.0.0.1 ]
check "Redis listens on 127.0.0.1 only" $? "bind: $bind"

# ---- PAYMENT_PROVIDER ------------------------------------------------------------
# Started without it, each must exit at once, non-zero, naming it. With the
# stack's variables otherwise, so that nothing else is missing.
refuses() { # name, command...
	local name=$1 rc; shift
	env -u PAYMENT_PROVIDER timeout 10 "$@" </dev/null >"$T/$name.out" 2>&1
	rc=$?
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q 'PAYMENT_PROVIDER must be set' "$T/$name.out"
	check "$name refuses to start without PAYMENT_PROVIDER" $? "exit $rc: $(tail -c 300 "$T/$name.out")"
}
refuses payments env REDIS_URL= "$BIN/payments" --socket "$T/payments.sock" --threads 1
refuses worker env REDIS_URL="${WORKER_REDIS_URL:-$REDIS_URL}" "$BIN/worker" --roles settler
refuses worker-consumers env REDIS_URL="${WORKER_REDIS_URL:-$REDIS_URL}" "$BIN/worker" --roles consumers --only-group payments-service
PAYMENT_PROVIDER=stripe STRIPE_KEY= timeout 10 "$BIN/payments" --socket "$T/p2.sock" --threads 1 \
	</dev/null >"$T/stripe.out" 2>&1
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q 'STRIPE_KEY' "$T/stripe.out"
check "payments with PAYMENT_PROVIDER=stripe refuses to start without STRIPE_KEY" $? "exit $rc"
# auth takes no payments: it starts (and SIGTERM stops it) without one.
env -u PAYMENT_PROVIDER "$BIN/auth" --socket "$T/auth.sock" --threads 1 </dev/null >"$T/auth.out" 2>&1 &
apid=$!
for _ in $(seq 100); do [ -S "$T/auth.sock" ] && break; sleep 0.05; done
[ -S "$T/auth.sock" ]
check "auth starts without PAYMENT_PROVIDER" $? "$(tail -c 300 "$T/auth.out")"
kill -TERM "$apid" 2>/dev/null; wait "$apid" 2>/dev/null

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
