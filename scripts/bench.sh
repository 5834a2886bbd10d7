#!/usr/bin/env bash
# bench.sh: `make bench`: the release build on a throwaway stack (test mode:
# no fsync), one function per section, each adding rows to one table that
# is printed and written to build/bench/results.txt.
#
# Sections (BENCH_SECTIONS="expiry_lateness ..." runs a subset):
#   expiry_lateness   10,000 orders due within the same second, expired
#                     by the stack's worker (plus two scheduler-only
#                     workers); p50/p99/max of cancellation time minus
#                     expiresAt (tests/stack/expiry_mass.sh).
# A new section is a function bench_NAME that calls row "name" "value"
# "unit" "note" for each figure, and its name in SECTIONS.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SECTIONS=${BENCH_SECTIONS:-expiry_lateness}
export DATA=$(mktemp -d /tmp/tixbench.XXXXXX)
chmod 0755 "$DATA"
export BIN=$ROOT/build/release/bin
export MODE=test THREADS=${THREADS:-8}
export JWT_KEY=$(head -c 48 /dev/urandom | base64 -w0)
export PASSWORD_COST=min AUTH_RATE_LIMIT=0
OUT=$ROOT/build/bench/results.txt
mkdir -p "$(dirname "$OUT")"

free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 20000))
		(echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}
export PORT=$(free_port) REDIS_PORT=$(free_port) PG_PORT=$(free_port)

rows=$DATA/rows
row() { printf '%-34s %12s %-6s %s\n' "$1" "$2" "$3" "${4:-}" >>"$rows"; }

cleanup() { scripts/stack.sh down >/dev/null 2>&1 || true; rm -rf "$DATA"; }
trap cleanup EXIT

# ---- sections ------------------------------------------------------------------

bench_expiry_lateness() {
	local n=${BENCH_EXPIRY_COUNT:-10000} out=$DATA/mass.out
	echo "== expiry lateness: $n orders due within one second"
	if ! MASS_OUT=$out tests/stack/expiry_mass.sh "$n"; then
		row "expiry lateness" "FAILED" "" "see the output above"
		return 1
	fi
	local count secs p50 p99 max
	read -r count secs p50 p99 max <"$out"
	row "expiry lateness p50 ($count due)" "$p50" "ms" "cancel time - expiresAt"
	row "expiry lateness p99 ($count due)" "$p99" "ms" ""
	row "expiry lateness max ($count due)" "$max" "ms" ""
	row "expiry drain ($count due)" "$secs" "s" "first due -> last cancelled, about"
}

# ---- run ---------------------------------------------------------------------------

echo "== starting the stack in $DATA (release build)"
scripts/stack.sh up >"$DATA/stack.log" 2>&1 || { tail -20 "$DATA/stack.log"; exit 1; }
rc=0
for s in $SECTIONS; do "bench_$s" || rc=1; done
{
	echo "# make bench, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $(uname -r)"
	printf '%-34s %12s %-6s %s\n' "figure" "value" "unit" "note"
	cat "$rows"
} >"$OUT"
echo; cat "$OUT"; echo "(written to ${OUT#$ROOT/})"
exit $rc
