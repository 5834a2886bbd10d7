#!/usr/bin/env bash
# lint.sh: the banned-function grep (unbounded or unchecked C library calls,
# as curl's checksrc does) over our C sources.
set -euo pipefail
cd "$(dirname "$0")/.."
banned='\b(sprintf|vsprintf|strcpy|strcat|strncpy|strtok|gets|atoi|atol|sscanf)\('
if grep -nE "$banned" $(git ls-files '*.c' '*.h' '*.cc'); then
	echo "lint: banned functions used (see above)" >&2
	exit 1
fi
echo "lint: ok"
