#!/usr/bin/env bash
# test.sh: `make test`: the stack of `make run` on a throwaway directory and
# free ports, built with AddressSanitizer and UndefinedBehaviorSanitizer,
# then every suite: unit and integration tests (release and sanitizer
# builds), HTTP tests through nginx, a sanitizer-log check, a short fuzz
# run. Ends with one line "N passed, N failed".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export DATA=$(mktemp -d /tmp/tixtest.XXXXXX)
export BIN=$ROOT/build/asan/bin
export MODE=test THREADS=4
export JWT_KEY=$(head -c 48 /dev/urandom | base64 -w0)
export PASSWORD_COST=min AUTH_RATE_LIMIT=0
# The programs have no default provider; the test one is for tests.
export PAYMENT_PROVIDER=test
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:log_path=$DATA/log/asan
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$DATA/log/ubsan
export CK_DEFAULT_TIMEOUT=30
# Everything the tests call is on loopback: never through a proxy the
# machine may have configured (libcurl honours http_proxy/https_proxy; npm
# keeps using them for the registry).
export no_proxy="127.0.0.1,localhost,::1${no_proxy:+,$no_proxy}"
export NO_PROXY=$no_proxy
# Failpoints armed by touching $FAILPOINT_DIR/NAME (tests/http: a payments
# program killed after the charge); the settler replays open attempts after
# 5 s (not sooner: the unit tests leave attempts open on purpose, briefly).
export FAILPOINT_DIR=$DATA/failpoints PAYMENT_SETTLE_AFTER_MS=5000
mkdir -p "$FAILPOINT_DIR"

free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768+)
		(echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}
export PORT=$(free_port) REDIS_PORT=$(free_port) PG_PORT=$(free_port)

passed=0 failed=0
results=$DATA/results
record() { # name, output file, exit code
	local line checks fails errs
	line=$(grep -E '^[0-9]+%: Checks: ' "$2" | tail -1)
	if [ -n "$line" ]; then
		checks=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
		fails=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
		errs=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
		passed=$((passed + checks - fails - errs)); failed=$((failed + fails + errs))
	fi
	if [ "$3" -ne 0 ] && { [ -z "$line" ] || [ "$((fails + errs))" -eq 0 ]; }; then
		failed=$((failed + 1))  # the runner itself failed
	fi
	echo "$1: $(if [ "$3" -eq 0 ]; then echo ok; else echo FAILED; fi) ${line:+($line)}" >>"$results"
}
run_suite() { # name, command...
	local name=$1 out=$DATA/log/$1.out rc; shift
	echo "== $name"
	"$@" >"$out" 2>&1; rc=$?
	grep -vE '^(Running suite|[0-9]+%: Checks)' "$out" | grep -E ':[FE]:|ERROR|error' | head -40
	grep -E '^[0-9]+%: Checks' "$out"
	record "$name" "$out" $rc
}

# A script of tests/stack/ that ends with "N passed, N failed": its
# counts join ours, its failures are shown.
run_counted() { # name, command...
	local name=$1 out=$DATA/log/$1.out rc line p f; shift
	echo "== $name"
	"$@" >"$out" 2>&1; rc=$?
	grep -E '^FAILED' "$out"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -1)
	p=$(sed -E 's/ passed.*//' <<<"${line:-0 passed}")
	f=$(sed -E 's/.* ([0-9]+) failed/\1/' <<<"${line:-x 1 failed}")
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	passed=$((passed + p)); failed=$((failed + f))
	echo "$name: $(if [ "$rc" -eq 0 ]; then echo ok; else echo FAILED; fi) ($p passed, $f failed)" >>"$results"
}

fake_pid= fixture_pid=
cleanup() {
	[ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null
	[ -n "$fixture_pid" ] && kill "$fixture_pid" 2>/dev/null
	tests/stack/failover_fixture.sh down "$DATA/failover" >/dev/null 2>&1
	scripts/stack.sh down >/dev/null 2>&1 || true
	if [ "$failed" -eq 0 ] && [ -z "${KEEP_TEST_DATA:-}" ]; then
		rm -rf "$DATA"
	else
		echo "test data and logs kept in $DATA"
	fi
}
trap cleanup EXIT

echo "== starting the stack in $DATA (nginx :$PORT, redis :$REDIS_PORT)"
if ! scripts/stack.sh up; then
	tail -n 30 "$DATA"/log/*.log "$DATA"/pg/server.log 2>/dev/null
	echo "0 passed, 1 failed"
	failed=1; exit 1
fi
. "$DATA/env"
export TEST_DATABASE_URL=$DATABASE_URL TEST_BASE_URL=$BASE_URL
export TEST_REDIS_URL=$REDIS_URL

# The fake Stripe (loopback, a free port) for the payments provider tests.
node tests/fakes/fake_stripe.mjs "$DATA/fake_stripe.port" >"$DATA/log/fake_stripe.log" 2>&1 &
fake_pid=$!
for _ in $(seq 100); do [ -s "$DATA/fake_stripe.port" ] && break; sleep 0.05; done
export FAKE_STRIPE_URL=http://127.0.0.1:$(cat "$DATA/fake_stripe.port" 2>/dev/null)

# TLS (a throwaway CA) and forward proxies in front of the fake Stripe, for
# the Stripe client's transport tests; it writes the exports of its URLs
# (STRIPE_TLS_*, HTTP_FIXTURE_*) to env.
node tests/fakes/http_fixture.mjs "$DATA/http_fixture" "$FAKE_STRIPE_URL" \
	>"$DATA/log/http_fixture.log" 2>&1 &
fixture_pid=$!
for _ in $(seq 200); do [ -s "$DATA/http_fixture/env" ] && break; sleep 0.05; done
[ -s "$DATA/http_fixture/env" ] && . "$DATA/http_fixture/env"

# Replicated Redis (three sentinels) and Postgres (a streaming standby) for
# the failover client tests (tests/unit/test_failover.c).
tests/stack/failover_fixture.sh up "$DATA/failover" >"$DATA/log/failover-fixture.log" 2>&1 ||
	tail -5 "$DATA/log/failover-fixture.log"
[ -s "$DATA/failover/env" ] && . "$DATA/failover/env"

run_suite unit-release build/release/bin/unit-tests
run_suite unit-asan build/asan/bin/unit-tests
run_suite http env CK_EXCLUDE_TAGS="ratelimit expiry" build/asan/bin/http-tests

# Concurrency through nginx (tests/load/concurrency.c): the course's 200-way
# update race with a second worker, a flash sale, the event lag (printed).
run_suite concurrency timeout 300 build/asan/bin/concurrency
grep -E '^(scenario|flash-sale|event-lag): ' "$DATA/log/concurrency.out"

# Plain CGI: the same binary without a socket answers one request.
cgi_out=$(REQUEST_METHOD=GET DOCUMENT_URI=/api/users/currentuser \
	AUTH_DATABASE_URL="$DATABASE_URL" TEMPLATE_DIR="$ROOT/templates" build/asan/bin/auth </dev/null 2>>"$DATA/log/cgi.log")
if grep -q '^Status: 200 OK' <<<"$cgi_out" && grep -q '{"currentUser":null}' <<<"$cgi_out"; then
	echo "cgi: ok" >>"$results"; passed=$((passed + 1))
else
	echo "cgi: FAILED: $cgi_out" >>"$results"; failed=$((failed + 1))
fi

# CGI mode for classic hosting: nginx + fcgiwrap (nginx/cgi.conf.in) run
# the same binaries, one process per request (tests/stack/cgi.sh).
if tests/stack/cgi.sh >"$DATA/log/cgi-fcgiwrap.out" 2>&1; then
	echo "cgi-fcgiwrap: ok ($(tail -1 "$DATA/log/cgi-fcgiwrap.out"))" >>"$results"; passed=$((passed + 1))
else
	grep FAILED "$DATA/log/cgi-fcgiwrap.out"
	echo "cgi-fcgiwrap: FAILED: $(tail -1 "$DATA/log/cgi-fcgiwrap.out")" >>"$results"; failed=$((failed + 1))
fi

# The release programs against a Postgres that wants TLS and SCRAM
# passwords: libpq's TLS (Debian's OpenSSL) and SCRAM.
if BIN=$ROOT/build/release/bin tests/stack/pg_tls_scram.sh >"$DATA/log/pg-tls-scram.out" 2>&1; then
	echo "pg-tls-scram: ok ($(tail -1 "$DATA/log/pg-tls-scram.out"))" >>"$results"; passed=$((passed + 1))
else
	grep FAILED "$DATA/log/pg-tls-scram.out"
	echo "pg-tls-scram: FAILED: $(tail -1 "$DATA/log/pg-tls-scram.out")" >>"$results"; failed=$((failed + 1))
fi

# Production defaults that fail closed (issue 16): a forged payment:created
# without Redis credentials, PAYMENT_PROVIDER required (release programs).
run_counted prod-defaults env BIN="$ROOT/build/release/bin" tests/stack/prod_defaults.sh
# make install into a DESTDIR: the files, modes and fresh secrets, the
# units (systemd-analyze), Redis with the installed users, the sockets.
run_counted install tests/stack/install.sh

# The rate limit, with nginx reloaded to enforce it.
AUTH_RATE_LIMIT=2 scripts/stack.sh nginx-reload && sleep 0.5
run_suite http-ratelimit env CK_INCLUDE_TAGS=ratelimit build/release/bin/http-tests

# End-to-end in headless Chromium (tests/e2e/run.sh: npm ci, a spec,
# bounded, the browser always ended), each phase against the stack
# restarted with its own settings; its "N passed, N failed" joins ours.
e2e_phase() { # name, spec, VAR=value... (the stack's and the spec's)
	local name=$1 spec=$2 out=$DATA/log/$1.out rc line p f; shift 2
	scripts/stack.sh down >/dev/null 2>&1
	if env "$@" scripts/stack.sh up >"$DATA/log/$name-stack.log" 2>&1; then
		env "$@" E2E_LOG="$DATA/log/$name.tap" tests/e2e/run.sh "$spec" >"$out" 2>&1
		rc=$?
	else
		echo "0 passed, 1 failed" >"$out"; rc=1
		tail -n 20 "$DATA/log/$name-stack.log"
	fi
	grep -vE '^  ok ' "$out"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -1)
	p=$(sed -E 's/ passed.*//' <<<"${line:-0 passed}")
	f=$(sed -E 's/.* ([0-9]+) failed/\1/' <<<"${line:-x 1 failed}")
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	passed=$((passed + p)); failed=$((failed + f))
	echo "$name: $(if [ "$rc" -eq 0 ]; then echo ok; else echo FAILED; fi) ($p passed, $f failed)" >>"$results"
}

# The journey, with a short expiration window so that the expiry step can
# wait it out. Before the expiry phase, whose 10,000 tickets would make /
# very long. Both browser phases run the release programs (what `make run`
# and `make install` run); the HTTP suites above ran the ASan build.
echo "== e2e (chromium; screenshots in tests/screenshots/)"
e2e_window=${E2E_EXPIRATION_WINDOW_SECONDS:-15}
e2e_phase e2e journey.mjs BIN="$ROOT/build/release/bin" EXPIRATION_WINDOW_SECONDS="$e2e_window"

# The Stripe Elements checkout (tests/e2e/stripe.mjs), the stack in Stripe
# mode against the fake Stripe API; the browser gets a stand-in Stripe.js.
echo "== e2e-stripe (Stripe Elements checkout, fake Stripe.js and API)"
e2e_phase e2e-stripe stripe.mjs BIN="$ROOT/build/release/bin" E2E_NPM_CI=0 PAYMENT_PROVIDER=stripe \
	STRIPE_KEY=sk_test_fake STRIPE_API_BASE="$FAKE_STRIPE_URL" \
	STRIPE_PUBLISHABLE_KEY=pk_test_e2e_checkout

# Expiry, against the stack restarted with short windows (3 s hold, 2 s
# grace, 1 s ack wait): the HTTP scenarios (tag expiry; one kills the
# worker, one flushes Redis), then 10,000 orders due in the same second.
echo "== expiry (short windows)"
scripts/stack.sh down >/dev/null 2>&1
if EXPIRATION_WINDOW_SECONDS=3 EXPIRATION_GRACE_SECONDS=2 ACK_WAIT_MS=1000 \
	scripts/stack.sh up >"$DATA/log/expiry-stack.log" 2>&1; then
	. "$DATA/env"
	run_suite http-expiry env CK_INCLUDE_TAGS=expiry build/asan/bin/http-tests
	if tests/stack/expiry_mass.sh "${EXPIRY_MASS_COUNT:-10000}" >"$DATA/log/expiry-mass.out" 2>&1; then
		echo "expiry-mass: ok ($(tail -1 "$DATA/log/expiry-mass.out"))" >>"$results"; passed=$((passed + 1))
	else
		echo "expiry-mass: FAILED: $(tail -1 "$DATA/log/expiry-mass.out")" >>"$results"; failed=$((failed + 1))
	fi
	tail -1 "$DATA/log/expiry-mass.out"
else
	tail -n 20 "$DATA/log/expiry-stack.log"
	echo "expiry: FAILED: the stack did not start" >>"$results"; failed=$((failed + 1))
fi

# make run itself (tests/stack/make_run.sh: its own stacks, release build):
# private to its user, one per checkout, stopped by every signal with
# nothing left behind, and nothing of this stack (still up) either.
run_counted make-run env BIN="$ROOT/build/release/bin" tests/stack/make_run.sh

# Stop the programs (they exit cleanly on SIGTERM, so LeakSanitizer runs),
# then any sanitizer report anywhere is a failure.
scripts/stack.sh down >/dev/null 2>&1
if ls "$DATA"/log/asan* "$DATA"/log/ubsan* >/dev/null 2>&1 ||
	grep -lE 'AddressSanitizer|LeakSanitizer|runtime error' "$DATA"/log/*.log 2>/dev/null; then
	echo "== sanitizer reports:"; cat "$DATA"/log/asan* "$DATA"/log/ubsan* 2>/dev/null | head -60
	echo "sanitizers: FAILED" >>"$results"; failed=$((failed + 1))
else
	echo "sanitizers: ok (no reports)" >>"$results"; passed=$((passed + 1))
fi
# Every program ran as its own Redis user (deploy/redis/): a command missing
# from a user's rules is a NOPERM in some log.
if grep -l NOPERM "$DATA"/log/*.log 2>/dev/null; then
	grep -h NOPERM "$DATA"/log/*.log | head -5
	echo "redis-users: FAILED (NOPERM in the logs above)" >>"$results"; failed=$((failed + 1))
else
	echo "redis-users: ok (no NOPERM)" >>"$results"; passed=$((passed + 1))
fi


# Fault drills, the short set (scripts/faults.sh short: its own durable
# stack on other ports, release build; kill -9 at failpoints, Redis killed
# and stopped, FastCGI processes killed, each drill under load and followed
# by tests/faults/check_invariants.sh). Each drill counts as one test.
echo "== fault drills (short)"
BIN=$ROOT/build/release/bin timeout 600 scripts/faults.sh short >"$DATA/log/faults.out" 2>&1
faults_rc=$?
grep -E '^drill |^netns: ' "$DATA/log/faults.out"
f_line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$DATA/log/faults.out" | tail -1)
f_pass=$(sed -E 's/ passed.*//' <<<"${f_line:-0 passed}")
f_fail=$(sed -E 's/.* ([0-9]+) failed/\1/' <<<"${f_line:-x 1 failed}")
[ "$faults_rc" -ne 0 ] && [ "$f_fail" -eq 0 ] && f_fail=1
passed=$((passed + f_pass)); failed=$((failed + f_fail))
echo "faults: $(if [ "$faults_rc" -eq 0 ]; then echo ok; else echo FAILED; fi) ($f_pass passed, $f_fail failed)" >>"$results"

# Failover, the short set (scripts/failover.sh short: Postgres under
# pg_auto_failover and Redis under three sentinels on loopback; the Redis
# master, then the Postgres primary, killed under load; invariants and
# replicas checked after each). Each drill counts as one test.
echo "== failover drills (short)"
BIN=$ROOT/build/release/bin timeout 600 scripts/failover.sh short >"$DATA/log/failover.out" 2>&1
fo_rc=$?
grep -E '^drill ' "$DATA/log/failover.out" | awk '!seen[$0]++'
fo_line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$DATA/log/failover.out" | tail -1)
fo_pass=$(sed -E 's/ passed.*//' <<<"${fo_line:-0 passed}")
fo_fail=$(sed -E 's/.* ([0-9]+) failed/\1/' <<<"${fo_line:-x 1 failed}")
[ "$fo_rc" -ne 0 ] && [ "$fo_fail" -eq 0 ] && fo_fail=1
passed=$((passed + fo_pass)); failed=$((failed + fo_fail))
echo "failover: $(if [ "$fo_rc" -eq 0 ]; then echo ok; else echo FAILED; fi) ($fo_pass passed, $fo_fail failed)" >>"$results"

echo "== fuzz (short run)"
if make --no-print-directory fuzz FUZZ_SECONDS=${FUZZ_SECONDS:-10} >"$DATA/log/fuzz.out" 2>&1; then
	echo "fuzz: ok" >>"$results"; passed=$((passed + 1))
else
	tail -20 "$DATA/log/fuzz.out"; echo "fuzz: FAILED" >>"$results"; failed=$((failed + 1))
fi

echo; echo "== summary"; cat "$results"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
