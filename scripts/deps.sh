#!/usr/bin/env bash
# deps.sh: install the Debian packages the app and `make test` need, when
# missing. As root it runs apt-get; otherwise it prints the exact command.
set -euo pipefail
# systemd: make test checks the installed units and users with
# systemd-analyze, systemd-sysusers and systemd-tmpfiles.
pkgs=(build-essential pkg-config libfcgi-dev libfcgi-bin libpq-dev libjson-c-dev
	libjwt-dev libhiredis-dev libctemplate-dev check libsodium-dev libssl-dev
	libcurl4-openssl-dev
	postgresql redis-server nginx clang libclang-rt-14-dev
	curl ca-certificates openssl chromium fonts-dejavu-core fcgiwrap systemd)
# node 18 or later and npm: the fake Stripe and its TLS and proxies
# (tests/fakes), the browser tests (tests/e2e) and the bench's Express peer.
# Debian 12's nodejs (18) and npm (9), unless the PATH already has a node
# that is new enough (a nodesource or nvm install, say).
node_ok() {
	command -v node >/dev/null &&
		node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)' 2>/dev/null
}
if ! node_ok; then
	pkgs+=(nodejs npm)
elif ! command -v npm >/dev/null; then
	pkgs+=(npm)
fi
# Failover (scripts/failover.sh, make test's short drill): Redis Sentinel,
# pg_auto_failover for the packaged Postgres, jq for the invariant checks.
pkgs+=(redis-sentinel pg-auto-failover-cli postgresql-15-auto-failover jq)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "missing Debian packages; install them with:" >&2
	echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
