#!/usr/bin/env bash
# run.sh: the end-to-end phases of `make test`: playwright-core from the
# lock file (npm ci), then one spec (default journey.mjs; stripe.mjs for the
# Stripe-mode stack) in Debian's headless Chromium against BASE_URL. Bounded
# in time (E2E_TIMEOUT seconds, default 300); node and the browser run in
# the process group of `timeout`, which is ended by its id afterwards
# whatever happened. Prints the failing steps, and last the line "N passed,
# N failed"; exits 0 only when every step passed. A missing browser is a
# failure, never a skip. E2E_NPM_CI=0 skips npm ci (a second spec in the
# same run).
#
#   BASE_URL=http://127.0.0.1:8080 EXPIRATION_WINDOW_SECONDS=15 tests/e2e/run.sh
#   BASE_URL=... STRIPE_PUBLISHABLE_KEY=pk_test_x FAKE_STRIPE_URL=... tests/e2e/run.sh stripe.mjs
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
LIMIT=${E2E_TIMEOUT:-300}
SPEC=${1:-journey.mjs}
LOG=${E2E_LOG:-$HERE/../screenshots/${SPEC%.mjs}.tap}
export CHROMIUM

fail() {
	echo "e2e: FAILED: $*"
	echo "0 passed, 1 failed"
	exit 1
}

: "${BASE_URL:?set BASE_URL to the address of the stack}"
[ -x "$CHROMIUM" ] || fail "$CHROMIUM not found: the end-to-end tests need Debian's chromium (scripts/deps.sh installs it as root; by hand: apt-get install -y chromium)"
command -v node >/dev/null || fail "node not found (node 18 or later is needed: scripts/deps.sh installs it)"
cd "$HERE" || fail "cannot enter $HERE"
mkdir -p "$(dirname "$LOG")"
[ -f "$SPEC" ] || fail "no spec $HERE/$SPEC"
if [ "${E2E_NPM_CI:-1}" != 0 ]; then
	timeout 180 npm ci --no-audit --no-fund --loglevel=error >"$LOG.npm" 2>&1 ||
		{ cat "$LOG.npm"; fail "npm ci in tests/e2e failed (see above)"; }
fi

pid=
stop() { [ -z "$pid" ] || kill -KILL -- "-$pid" 2>/dev/null; pid=; }
trap 'stop; exit 130' INT TERM
trap stop EXIT
# timeout makes itself a process group leader: its id is the group's.
NO_COLOR=1 FORCE_COLOR=0 timeout -k 10 "$LIMIT" node --test --test-reporter=tap \
	"$SPEC" >"$LOG" 2>&1 </dev/null &
pid=$!
wait "$pid"
rc=$?
stop

pass=$(sed -nE 's/^# pass ([0-9]+)$/\1/p' "$LOG" | tail -1)
fails=$(sed -nE 's/^# fail ([0-9]+)$/\1/p' "$LOG" | tail -1)
cancelled=$(sed -nE 's/^# cancelled ([0-9]+)$/\1/p' "$LOG" | tail -1)
grep -E '^(not )?ok [0-9]+ - ' "$LOG" | sed 's/^/  /'
# The first lines of each failure's report (TAP's YAML block).
awk '/^not ok [0-9]+ - /{n=14} n>0{print "    " $0; n--}' "$LOG" |
	grep -vE '^\s+(duration_ms|type|location|failureType|code|stack|\.\.\.|---)' | head -80
if [ -z "$pass" ] || [ -z "$fails" ]; then
	[ $rc -eq 124 ] && echo "e2e: timed out after $LIMIT s"
	tail -20 "$LOG"
	echo "0 passed, 1 failed"
	exit 1
fi
fails=$((fails + ${cancelled:-0}))
[ $rc -ne 0 ] && [ "$fails" -eq 0 ] && fails=1 # the runner itself failed
echo "screenshots: $(cd "$HERE/../screenshots" 2>/dev/null && pwd)"
echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
