#!/usr/bin/env bash
# redis-users.sh SECRETS CONF: the Redis users of Ticketing
# (deploy/redis/ticketing-users.conf.in) with their passwords.
#
# SECRETS is a file of NAME=value lines (mode 0600) holding the passwords:
# REDIS_ADMIN_PASSWORD (the default user), REDIS_TICKETS_PASSWORD,
# REDIS_OPS_PASSWORD, REDIS_WORKER_PASSWORD. Those missing are generated
# (30 random bytes, URL-safe base64: no escaping needed in a REDIS_URL)
# and added; existing ones are kept. CONF is written (mode 0600, or 0640
# with GROUP as its group) with the users and the SHA-256 of each
# password. scripts/stack.sh, tests/faults/netns.sh and
# scripts/install-config.sh (make install) use it.
set -euo pipefail
secrets=${1:?usage: redis-users.sh SECRETS CONF [GROUP]}
conf=${2:?usage: redis-users.sh SECRETS CONF [GROUP]}
group=${3:-}
here=$(cd "$(dirname "$0")/.." && pwd)
ROLES="ADMIN TICKETS OPS WORKER"

new_password() { head -c 30 /dev/urandom | base64 -w0 | tr '+/' '-_'; }
sha256() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

(umask 077 && touch "$secrets")
chmod 0600 "$secrets"
subst=()
for r in $ROLES; do
	name=REDIS_${r}_PASSWORD
	pw=$(sed -n "s/^$name=//p" "$secrets" | tail -1)
	if [ -z "$pw" ]; then
		pw=$(new_password)
		echo "$name=$pw" >>"$secrets"
	fi
	subst+=(-e "s|@${r}_HASH@|$(sha256 "$pw")|")
done
tmp=$(mktemp "$conf.XXXXXX")
sed "${subst[@]}" "$here/deploy/redis/ticketing-users.conf.in" >"$tmp"
if [ -n "$group" ]; then chgrp "$group" "$tmp" && chmod 0640 "$tmp"; else chmod 0600 "$tmp"; fi
mv -f "$tmp" "$conf"
