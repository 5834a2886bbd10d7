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
chmod 0755 "$DATA"
export BIN=$ROOT/build/asan/bin
export MODE=test THREADS=4
export JWT_KEY=$(head -c 48 /dev/urandom | base64 -w0)
export PASSWORD_COST=min AUTH_RATE_LIMIT=0
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:log_path=$DATA/log/asan
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$DATA/log/ubsan
export CK_DEFAULT_TIMEOUT=30

free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 20000))
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

cleanup() {
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

run_suite unit-release build/release/bin/unit-tests
run_suite unit-asan build/asan/bin/unit-tests
run_suite http env CK_EXCLUDE_TAGS=ratelimit build/asan/bin/http-tests

# Plain CGI: the same binary without a socket answers one request.
cgi_out=$(REQUEST_METHOD=GET DOCUMENT_URI=/api/users/currentuser \
	AUTH_DATABASE_URL="$DATABASE_URL" TEMPLATE_DIR="$ROOT/templates" build/asan/bin/auth </dev/null 2>>"$DATA/log/cgi.log")
if grep -q '^Status: 200 OK' <<<"$cgi_out" && grep -q '{"currentUser":null}' <<<"$cgi_out"; then
	echo "cgi: ok" >>"$results"; passed=$((passed + 1))
else
	echo "cgi: FAILED: $cgi_out" >>"$results"; failed=$((failed + 1))
fi

# The rate limit, with nginx reloaded to enforce it.
AUTH_RATE_LIMIT=2 scripts/stack.sh nginx-reload && sleep 0.5
run_suite http-ratelimit env CK_INCLUDE_TAGS=ratelimit build/release/bin/http-tests

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

echo "== fuzz (short run)"
if make --no-print-directory fuzz FUZZ_SECONDS=${FUZZ_SECONDS:-10} >"$DATA/log/fuzz.out" 2>&1; then
	echo "fuzz: ok" >>"$results"; passed=$((passed + 1))
else
	tail -20 "$DATA/log/fuzz.out"; echo "fuzz: FAILED" >>"$results"; failed=$((failed + 1))
fi

echo; echo "== summary"; cat "$results"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
