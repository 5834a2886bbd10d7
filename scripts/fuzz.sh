#!/bin/sh
# fuzz.sh: run libFuzzer harnesses for a while each.
#
#   scripts/fuzz.sh SECONDS build/fuzz/fuzz_json build/fuzz/fuzz_form ...
#
# Each target fuzz_X starts from a copy of tests/fuzz/corpus/X in
# build/fuzz/corpus-X (so the checked-in seeds stay small and new inputs
# stay out of the tree); crashes land in build/fuzz/. Exits 1 if any
# target failed.
set -u

if [ $# -lt 2 ]; then
	echo "usage: $0 SECONDS TARGET..." >&2
	exit 2
fi
seconds=$1
shift

failed=0
for target in "$@"; do
	name=$(basename "$target")
	x=${name#fuzz_}
	corpus=build/fuzz/corpus-$x
	mkdir -p "$corpus"
	if [ -d "tests/fuzz/corpus/$x" ]; then
		cp -R "tests/fuzz/corpus/$x/." "$corpus/"
	fi
	echo "== $name for ${seconds}s (corpus $corpus)"
	if ! "$target" -max_total_time="$seconds" -max_len=4096 \
		-artifact_prefix=build/fuzz/ "$corpus"; then
		echo "== $name FAILED" >&2
		failed=1
	fi
done
exit $failed
