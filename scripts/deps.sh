#!/usr/bin/env bash
# deps.sh: install the Debian packages the app needs, when missing.
# As root it runs apt-get; otherwise it prints the exact command to run.
set -euo pipefail
# postgresql-server-dev-all brings libpgcommon.a and libpgport.a, which the
# static libpq.a needs; libkrb5-dev and libldap-dev only their headers, for
# link/pq_without_gss_ldap.c (Makefile, STATIC).
pkgs=(build-essential pkg-config libfcgi-dev libfcgi-bin libpq-dev libjson-c-dev
	libhiredis-dev libctemplate-dev check libsodium-dev libssl-dev
	libcurl4-openssl-dev postgresql-server-dev-all libkrb5-dev libldap-dev
	postgresql redis-server nginx clang libclang-rt-14-dev
	curl ca-certificates chromium fonts-dejavu-core fcgiwrap)
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
