#!/usr/bin/env bash
# bench.sh: `make bench`: the release build on a throwaway stack with
# durable settings (MODE=run: fsync and synchronous_commit on), seeded with
# tests/bench/seed.sql, measured against this machine's ceilings and
# against Express + postgres.js in the same run. One function per section;
# the figures go into two tables, printed and written to
# build/bench/results.txt.
#
# Sections (BENCH_SECTIONS="http_read ..." runs a subset, in this order):
#   http_read         wrk -t2: nginx `return 200`, the bare libfcgi + libpq
#                     responder (tests/bench/bare.c, 4 processes, unprepared
#                     statements), Express + postgres.js
#                     (tests/bench/express/, one process), and our GET /,
#                     /api/tickets, /api/tickets/:id, /api/users/currentuser;
#                     PSS, USS and RSS of our programs (the five FastCGI
#                     programs and the worker) and of Express (all its
#                     processes), measured the same way under load
#   event_lag         1,000 tickets POSTed at BENCH_LAG_RATE/s: commit to
#                     the orders replica (tests/bench/events.c)
#   post_to_stream    1,000 tickets POSTed by 16 clients at once: POST ->
#                     XADD of ticket:created, POST response -> orders
#                     replica (tests/load/concurrency.c event-lag)
#   flash_sale        1,000 buyers on 100 tickets at once: orders decided
#                     per second, doubles (must be 0)
#   expiry_lateness   10,000 orders due within the same second, expired
#                     by the stack's worker (plus two scheduler-only
#                     workers); p50/p99/max of cancellation time minus
#                     expiresAt (tests/stack/expiry_mass.sh)
#   http_write        POST /api/tickets (row + outbox row, one statement)
#                     against the bare INSERT + XADD responder; last, since
#                     it adds tickets to the list and events to the queues
# HTTP method: a warm-up per configuration, then BENCH_RUNS rounds in which
# every configuration runs once for BENCH_DURATION (A/B alternation), at
# 64 connections; medians. At 256 connections BENCH_RUNS_HIGH rounds of
# our endpoints and Express only (errors, timeouts and p99 under overload;
# the full matrix at 256 would not fit the 10-minute budget).
# A new section is a function bench_NAME that calls row "name" "value"
# "unit" "note" for each figure, and its name in SECTIONS.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SECTIONS=${BENCH_SECTIONS:-http_read event_lag post_to_stream flash_sale expiry_lateness http_write}
RUNS=${BENCH_RUNS:-3} RUNS_HIGH=${BENCH_RUNS_HIGH:-1}
DUR=${BENCH_DURATION:-10s} WARM=${BENCH_WARMUP:-2s}
export DATA=$(mktemp -d /tmp/tixbench.XXXXXX)
export BIN=${BENCH_BIN:-$ROOT/build/release/bin}
export MODE=run THREADS=${THREADS:-8}
export JWT_KEY=$(head -c 48 /dev/urandom | base64 -w0)
export PASSWORD_COST=min AUTH_RATE_LIMIT=0 PAYMENT_PROVIDER=test
OUT=$ROOT/build/bench/results.txt
mkdir -p "$(dirname "$OUT")"

free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768+)
		(echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}
export PORT=${PORT:-$(free_port)} REDIS_PORT=${REDIS_PORT:-$(free_port)}
export PG_PORT=${PG_PORT:-$(free_port)}
SIDE_PORT=${BENCH_SIDE_PORT:-$(free_port)} EXPRESS_PORT=${BENCH_EXPRESS_PORT:-$(free_port)}
# Outside DATA, which only this user (and postgres) may enter: the side
# nginx's workers (nobody, when root) reach the bare responder's socket.
SIDE=$(mktemp -d /tmp/tixside.XXXXXX) && chmod 0755 "$SIDE"

rows=$DATA/rows http=$DATA/http.tsv
: >"$rows"; : >"$http"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
row() { printf '%-34s %12s %-6s %s\n' "$1" "$2" "$3" "${4:-}" >>"$rows"; }

side_pids=()
cleanup() {
	local p
	for p in "${side_pids[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	[ -s "$SIDE/nginx.pid" ] && kill -QUIT "$(cat "$SIDE/nginx.pid")" 2>/dev/null
	scripts/stack.sh down >/dev/null 2>&1 || true
	rm -rf "$DATA" "$SIDE"
}
trap cleanup EXIT

# ---- tools and the side servers ----------------------------------------------------

need_wrk() {
	command -v wrk >/dev/null && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "bench: wrk is missing: sudo apt-get install -y wrk" >&2
		return 1
	fi
	echo "== installing wrk"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk \
		>/dev/null 2>&1 || {
		apt-get update -q >/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk >/dev/null
	}
}

# nginx `return 200` and the bare responder behind one small nginx of their
# own (the app's nginx is left as it ships).
side_up() {
	mkdir -p "$SIDE/tmp"
	DATABASE_URL="host=$DATA/pg port=$PG_PORT dbname=ticketing user=postgres" \
		"$BIN/bench-bare" "$SIDE/bare.sock" 4 >>"$DATA/log/bare.log" 2>&1 &
	side_pids+=($!)
	cat >"$SIDE/nginx.conf" <<CONF
worker_processes auto;
pid $SIDE/nginx.pid;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $SIDE/tmp/body; proxy_temp_path $SIDE/tmp/proxy;
	fastcgi_temp_path $SIDE/tmp/fcgi; uwsgi_temp_path $SIDE/tmp/uwsgi;
	scgi_temp_path $SIDE/tmp/scgi;
	server {
		listen 127.0.0.1:$SIDE_PORT;
		location = /nginx-hello { default_type text/plain; return 200 "hello"; }
		location /bare/ {
			include /etc/nginx/fastcgi_params;
			fastcgi_pass unix:$SIDE/bare.sock;
		}
	}
}
CONF
	local i
	for i in $(seq 100); do [ -S "$SIDE/bare.sock" ] && break; sleep 0.05; done
	nginx -p "$SIDE" -c "$SIDE/nginx.conf" -e "$DATA/log/side-nginx-error.log" || return 1
	# the Express peer, installed from npm now
	(cd tests/bench/express && { npm ci --no-audit --no-fund --loglevel=error ||
		npm install --no-audit --no-fund --loglevel=error; }) >"$DATA/log/npm.log" 2>&1 ||
		{ tail -5 "$DATA/log/npm.log"; return 1; }
	PGHOST=$DATA/pg PGPORT=$PG_PORT PGUSER=postgres PGDATABASE=ticketing \
		PORT=$EXPRESS_PORT NODE_ENV=production \
		node tests/bench/express/server.js >>"$DATA/log/express.log" 2>&1 &
	express_pid=$!
	side_pids+=($express_pid)
	for i in $(seq 200); do
		curl -sf "http://127.0.0.1:$EXPRESS_PORT/api/tickets" >/dev/null && return 0
		sleep 0.05
	done
	echo "bench: Express did not come up"; cat "$DATA/log/express.log"; return 1
}

# ---- wrk ------------------------------------------------------------------------------

declare -A URL METHOD BODY COOKIE
cfg() { URL[$1]=$2; METHOD[$1]=${3:-GET}; BODY[$1]=${4:-}; COOKIE[$1]=${5:-}; }

# run NAME CONNS DURATION [tag]: one wrk run, a line in $http unless tag=warm
run() {
	local name=$1 c=$2 d=$3 out
	out=$(WRK_METHOD=${METHOD[$name]} WRK_BODY=${BODY[$name]} WRK_COOKIE=${COOKIE[$name]} \
		wrk -t2 -c"$c" -d"$d" --timeout 2s -s tests/bench/wrk.lua "${URL[$name]}" 2>&1 |
		awk '/^RESULT/ { print $3, $4, $5, $6, $7 }')
	[ "${4:-}" = warm ] && return
	[ -n "$out" ] || out="0 0 0 0 0"
	printf '%s\t%s\t%s\n' "$name" "$c" "${out// /$'\t'}" >>"$http"
	echo "   $name c$c: ${out}"
}

# rounds CONNS N NAME...: warm-up each, then N rounds of every NAME in turn
rounds() {
	local c=$1 n=$2 name i
	shift 2
	for name in "$@"; do run "$name" "$c" "$WARM" warm; done
	for i in $(seq "$n"); do
		for name in "$@"; do run "$name" "$c" "$DUR"; done
	done
}

# "PSS USS RSS" (kB) summed over the processes whose PIDs are given and
# their children, from /proc/PID/smaps_rollup. PSS divides each shared page
# among the processes that map it, so a sum of PSS counts a shared library
# once (but also shares it with processes not ours: Postgres, nginx, other
# stacks on the machine): what a host pays for these processes. USS
# (Private_Clean + Private_Dirty) is what they alone hold: freed if they
# exit. RSS counts a shared page once per process that maps it.
mem_kb() {
	local p k kids pss=0 uss=0 rss=0 a b c
	for p in "$@"; do
		kids=$(cat /proc/"$p"/task/*/children 2>/dev/null)
		for k in $p $kids; do
			read -r a b c < <(awk '/^Pss:/ { p = $2 } /^Private_(Clean|Dirty):/ { u += $2 }
				/^Rss:/ { r = $2 } END { print p + 0, u + 0, r + 0 }' \
				/proc/"$k"/smaps_rollup 2>/dev/null || echo 0 0 0)
			pss=$((pss + a)) uss=$((uss + b)) rss=$((rss + c))
		done
	done
	echo "$pss $uss $rss"
}
# peaks of mem_kb's PSS, USS and RSS sampled every second for SECONDS,
# into FILE
mem_watch() {
	local file=$1 secs=$2 max_p=0 max_u=0 max_r=0 p u r
	shift 2
	for _ in $(seq "$secs"); do
		read -r p u r < <(mem_kb "$@")
		[ "$p" -gt "$max_p" ] && max_p=$p
		[ "$u" -gt "$max_u" ] && max_u=$u
		[ "$r" -gt "$max_r" ] && max_r=$r
		sleep 1
	done
	echo "$max_p $max_u $max_r" >"$file"
}
# the programs themselves (children of stack.sh's supervisor loops)
our_pids() {
	local s
	for s in auth tickets orders payments ops worker; do
		[ -s "$RUN_DIR/$s.pid" ] && cat /proc/"$(cat "$RUN_DIR/$s.pid")"/task/*/children
	done
}

# ---- sections --------------------------------------------------------------------------

bench_http_read() {
	echo "== HTTP reads (wrk -t2, $RUNS x $DUR per configuration, alternating)"
	local base=http://127.0.0.1:$PORT side=http://127.0.0.1:$SIDE_PORT
	local ex=http://127.0.0.1:$EXPRESS_PORT
	cfg nginx-return-200 "$side/nginx-hello"
	cfg bare-hello "$side/bare/hello"
	cfg bare-list-html "$side/bare/list"
	cfg bare-list-json "$side/bare/list.json"
	cfg bare-one "$side/bare/one/$TICKET_ID"
	cfg express-html "$ex/"
	cfg express-json "$ex/api/tickets"
	cfg ours-html "$base/"
	cfg ours-json "$base/api/tickets"
	cfg ours-one "$base/api/tickets/$TICKET_ID"
	cfg ours-currentuser "$base/api/users/currentuser" GET "" "$BENCH_COOKIE"
	rounds 64 "$RUNS" nginx-return-200 bare-hello bare-list-html bare-list-json bare-one \
		express-html express-json ours-html ours-json ours-one ours-currentuser
	# 256 connections, with the memory of both sides sampled under this load
	local secs=${DUR%s}
	mem_watch "$DATA/mem.express" $((secs * 2 * RUNS_HIGH + 2)) "$express_pid" &
	local w1=$!
	mem_watch "$DATA/mem.ours" $((secs * 6 * RUNS_HIGH + 4)) $(our_pids) &
	local w2=$!
	rounds 256 "$RUNS_HIGH" express-html express-json ours-html ours-json ours-one \
		ours-currentuser
	wait $w1 $w2
	local ours_p ours_u ours_r ex_p ex_u ex_r
	read -r ours_p ours_u ours_r <"$DATA/mem.ours"
	read -r ex_p ex_u ex_r <"$DATA/mem.express"
	row "PSS, our programs + worker" "$((ours_p / 1024))" "MB" \
		"peak sum, 4 FastCGI programs x $THREADS threads, ops x ${OPS_THREADS:-2}, worker; under load; $(ratio "$ours_p" "$ex_p") Express"
	row "USS, our programs + worker" "$((ours_u / 1024))" "MB" \
		"peak sum of private pages; $(ratio "$ours_u" "$ex_u") Express"
	row "RSS, our programs + worker" "$((ours_r / 1024))" "MB" \
		"peak sum (shared pages once per process); $(ratio "$ours_r" "$ex_r") Express"
	row "PSS, Express (all its processes)" "$((ex_p / 1024))" "MB" "peak under load"
	row "USS, Express (all its processes)" "$((ex_u / 1024))" "MB" "peak under load"
	row "RSS, Express (all its processes)" "$((ex_r / 1024))" "MB" "peak under load"
}

bench_event_lag() {
	local n=${BENCH_LAG_COUNT:-1000} rate=${BENCH_LAG_RATE:-200} out
	echo "== event lag: $n tickets at $rate/s"
	if ! out=$("$BIN/bench-events" lag "$n" "$rate"); then
		row "event lag" "FAILED" "" "see the output above"
		return 1
	fi
	local count p50 p99 max
	read -r count p50 p99 max <<<"$out"
	row "event lag p50 ($count tickets)" "$p50" "ms" "ticket commit -> orders replica, $rate/s"
	row "event lag p99 ($count tickets)" "$p99" "ms" "target < 50"
	row "event lag max ($count tickets)" "$max" "ms" ""
}

bench_post_to_stream() {
	local out sent repl
	echo "== POST -> stream: 1,000 tickets, 16 clients at once"
	if ! out=$("$BIN/concurrency" event-lag); then
		echo "$out"; row "POST -> stream" "FAILED" "" "see the output above"
		return 1
	fi
	grep '^event-lag: ' <<<"$out"
	# "... p50 <v> ms   p99 <v> ms" -> "<p50> <p99>"
	sent=$(awk '/XADD - POST sent/ { print $(NF-4), $(NF-1) }' <<<"$out")
	repl=$(awk '/replica applied - POST response/ { print $(NF-4), $(NF-1) }' <<<"$out")
	row "POST -> stream p50 / p99" "${sent/ / / }" "ms" "POST sent -> XADD of ticket:created, burst"
	row "POST -> replica p50 / p99" "${repl/ / / }" "ms" "POST response -> orders applied, burst"
}

bench_flash_sale() {
	local buyers=${BENCH_FLASH_BUYERS:-1000} tickets=${BENCH_FLASH_TICKETS:-100} out
	echo "== flash sale: $buyers buyers on $tickets tickets"
	if ! out=$("$BIN/bench-events" flash "$buyers" "$tickets"); then
		row "flash sale" "FAILED" "" "see the output above"
		return 1
	fi
	local rate created reserved other doubles
	read -r rate created reserved other doubles <<<"$out"
	row "flash sale: orders decided" "$rate" "/s" "$buyers buyers, $tickets tickets, 250 clients"
	row "flash sale: orders / reserved / other" "$created/$reserved/$other" "" "want $tickets/$((buyers - tickets))/0"
	row "flash sale: doubles" "$doubles" "" "must be 0"
	[ "$doubles" = 0 ] && [ "$created" = "$tickets" ] && [ "$other" = 0 ]
}

bench_expiry_lateness() {
	local n=${BENCH_EXPIRY_COUNT:-10000} out=$DATA/mass.out
	echo "== expiry lateness: $n orders due within one second"
	if ! MASS_OUT=$out tests/stack/expiry_mass.sh "$n"; then
		row "expiry lateness" "FAILED" "" "see the output above"
		return 1
	fi
	local count secs p50 p99 max all
	read -r count secs p50 p99 max all <"$out"
	row "expiry lateness p50 ($count due)" "$p50" "ms" "cancel time - expiresAt"
	row "expiry lateness p99 ($count due)" "$p99" "ms" "target < 1000"
	row "expiry lateness max ($count due)" "$max" "ms" ""
	row "expiry drain ($count due)" "$secs" "s" "first due -> last cancelled, about"
	row "expiry tickets unlocked ($count due)" "$all" "s" "first due -> last ticket for sale again"
}

bench_http_write() {
	echo "== HTTP writes (synchronous_commit on)"
	cfg bare-insert-xadd "http://127.0.0.1:$SIDE_PORT/bare/insert-xadd"
	cfg ours-post "http://127.0.0.1:$PORT/api/tickets" POST \
		'{"title":"Bench concert","price":25}' "$BENCH_COOKIE"
	rounds 64 "$RUNS" bare-insert-xadd ours-post
	rounds 256 "$RUNS_HIGH" ours-post
}

# ---- the HTTP table: medians per configuration and ratios ------------------------------

# Which ceiling and which Express figure each of ours is held against.
http_table() {
	awk -F'\t' '
	function med(a, n,   i, j, t) {
		for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
		return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
	}
	{ k = $1 SUBSEP $2; n = ++cnt[k]; R[k, n] = $3; P50[k, n] = $4; P99[k, n] = $5
	  err[k] += $6 + $7; if (!(k in seen)) { seen[k] = 1; order[++nk] = k } }
	END {
		ceil["ours-html"] = "bare-list-html"; ceil["ours-json"] = "bare-list-json"
		ceil["ours-one"] = "bare-one"; ceil["ours-currentuser"] = "bare-hello"
		ceil["ours-post"] = "bare-insert-xadd"
		ceil["bare-list-html"] = "bare-hello"; ceil["bare-list-json"] = "bare-hello"
		ceil["bare-one"] = "bare-hello"; ceil["bare-hello"] = "nginx-return-200"
		ceil["express-html"] = "bare-list-html"; ceil["express-json"] = "bare-list-json"
		peer["ours-html"] = "express-html"; peer["ours-json"] = "express-json"
		peer["bare-list-html"] = "express-html"; peer["bare-list-json"] = "express-json"
		printf "%-18s %5s %9s %8s %8s %6s  %-28s %s\n", "configuration", "conns", "req/s",
			"p50 ms", "p99 ms", "errors", "x ceiling", "x Express (p99 ratio)"
		for (i = 1; i <= nk; i++) {
			k = order[i]; split(k, kk, SUBSEP); n = cnt[k]
			for (j = 1; j <= n; j++) { a[j] = R[k, j] }; rps[k] = med(a, n)
			for (j = 1; j <= n; j++) { a[j] = P50[k, j] }; p50[k] = med(a, n)
			for (j = 1; j <= n; j++) { a[j] = P99[k, j] }; p99[k] = med(a, n)
		}
		for (i = 1; i <= nk; i++) {
			k = order[i]; split(k, kk, SUBSEP); name = kk[1]; c = kk[2]
			cs = ""; ps = ""
			ck = ceil[name] SUBSEP c; if (ck in rps && rps[ck] > 0) cs = sprintf("%.2f %s", rps[k] / rps[ck], ceil[name])
			hk = "bare-hello" SUBSEP c
			if ((name == "ours-html" || name == "ours-json") && hk in rps && rps[hk] > 0)
				cs = cs sprintf(", %.2f hello", rps[k] / rps[hk])
			pk = peer[name] SUBSEP c
			if (pk in rps && rps[pk] > 0) ps = sprintf("%.2f (p99 %.2f)", rps[k] / rps[pk], p99[k] / p99[pk])
			printf "%-18s %5s %9.0f %8.2f %8.2f %6d  %-28s %s\n", name, c, rps[k], p50[k], p99[k], err[k], cs, ps
		}
	}' "$http"
}

# ---- run ---------------------------------------------------------------------------

need_wrk || exit 1
for p in bench-bare bench-events; do
	[ -x "$BIN/$p" ] || { echo "bench: $BIN/$p is missing (make bench builds it)"; exit 1; }
done
echo "== starting the stack in $DATA (release build, MODE=run, $THREADS threads)"
scripts/stack.sh up >"$DATA/stack.log" 2>&1 || { tail -20 "$DATA/stack.log"; exit 1; }
. "$DATA/env"
export TEST_BASE_URL=$BASE_URL TEST_DATABASE_URL=$DATABASE_URL TEST_REDIS_URL=$REDIS_URL
echo "== seeding (tests/bench/seed.sql)"
psql "$DATABASE_URL" -Xq -v ON_ERROR_STOP=1 -f tests/bench/seed.sql >/dev/null || exit 1
TICKET_ID=$(psql "$DATABASE_URL" -XAtc \
	"SELECT id FROM tickets.tickets WHERE order_id IS NULL ORDER BY seq LIMIT 1")
BENCH_COOKIE=$("$BIN/bench-events" cookie)
echo "== side servers: nginx return 200 + bare responder, Express"
side_up || exit 1
listed=$(curl -s "$BASE_URL/api/tickets" | grep -o '"id"' | wc -l)
[ "$listed" = 12 ] || echo "bench: warning: the first page lists $listed tickets, not 12"
rc=0
started=$(date +%s) load0=$(cut -d' ' -f1-3 /proc/loadavg)
for s in $SECTIONS; do "bench_$s" || rc=1; done
{
	echo "# make bench, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $(uname -r)," \
		"$(($(date +%s) - started)) s; wrk -t2, medians of $RUNS x $DUR at 64" \
		"connections, $RUNS_HIGH at 256; THREADS=$THREADS; load average" \
		"$load0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end (other work" \
		"on the machine shows here: compare ratios within a run, not runs)"
	if [ -s "$http" ]; then http_table; echo; fi
	printf '%-34s %12s %-6s %s\n' "figure" "value" "unit" "note"
	cat "$rows"
} >"$OUT"
echo; cat "$OUT"; echo "(written to ${OUT#$ROOT/})"
exit $rc
