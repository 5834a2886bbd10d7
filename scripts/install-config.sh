#!/usr/bin/env bash
# install-config.sh EXAMPLES ETC: `make install`'s configuration files,
# written only where none exists (an operator's file is never touched):
#   ETC/ticketing/NAME.env    from EXAMPLES/NAME.env.example, for auth,
#                             tickets, orders, payments, ops and worker:
#                             the example JWT_KEY replaced by a random one
#                             (the same in every file that has one: an
#                             existing file's, if any) and each Redis
#                             password by a random one (its role's, from
#                             its existing file if any); mode 0600
#   ETC/ticketing/redis-admin.env   REDISCLI_AUTH for the default Redis
#                             user, the operator's (0600)
#   ETC/redis/ticketing.conf  the Redis users with those passwords
#                             (scripts/redis-users.sh; 0640, group redis
#                             when it exists)
# ETC/ticketing is made 0700. Says what it wrote and what it kept, and
# warns when a kept Redis configuration does not know a new password.
set -euo pipefail
ex=${1:?usage: install-config.sh EXAMPLES ETC}
etc=${2:?usage: install-config.sh EXAMPLES ETC}
here=$(cd "$(dirname "$0")/.." && pwd)
dir=$etc/ticketing conf=$etc/redis/ticketing.conf
NAMES="auth tickets orders payments ops worker"
EXAMPLE_KEY=change-me-to-48-random-bytes-base64-at-least-32-bytes
EXAMPLE_PASSWORD=change-me-redis-password
say() { echo "install-config: $*"; }
var() { [ ! -f "$2" ] || sed -n "s/^$1=//p" "$2" | tail -1; } # NAME file
redis_user() { case $1 in tickets | ops | worker) echo "ticketing-$1" ;; esac; }

[ -d "$dir" ] || install -d -m 0700 "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The JWT_KEY of an existing file, else a new one.
key=
for n in $NAMES; do
	v=$(var JWT_KEY "$dir/$n.env")
	if [ -n "$v" ] && [ "$v" != "$EXAMPLE_KEY" ]; then key=$v; break; fi
done
[ -n "$key" ] || key=$(head -c 48 /dev/urandom | base64 -w0)

# The Redis passwords of existing files; redis-users.sh makes the others.
(umask 077 && : >"$tmp/secrets")
for n in $NAMES; do
	u=$(redis_user "$n")
	[ -n "$u" ] && [ -f "$dir/$n.env" ] || continue
	pw=$(var REDIS_URL "$dir/$n.env"); pw=${pw#redis://"$u":}; pw=${pw%@*}
	case $pw in "" | redis://* | "$EXAMPLE_PASSWORD") ;; *) echo "REDIS_${n^^}_PASSWORD=$pw" >>"$tmp/secrets" ;; esac
done
pw=$(var REDISCLI_AUTH "$dir/redis-admin.env")
[ -z "$pw" ] || echo "REDIS_ADMIN_PASSWORD=$pw" >>"$tmp/secrets"
"$here/scripts/redis-users.sh" "$tmp/secrets" "$tmp/ticketing.conf"
secret() { var "REDIS_$1_PASSWORD" "$tmp/secrets"; }

for n in $NAMES; do
	f=$dir/$n.env
	if [ -e "$f" ]; then say "kept $f"; continue; fi
	(umask 077 && sed -e "s|^JWT_KEY=$EXAMPLE_KEY\$|JWT_KEY=$key|" \
		-e "s|:$EXAMPLE_PASSWORD@|:$(secret "${n^^}")@|" "$ex/$n.env.example" >"$tmp/$n.env")
	if grep -q -e "$EXAMPLE_KEY" -e "$EXAMPLE_PASSWORD" "$tmp/$n.env"; then
		say "an example secret is left in $n.env: not installing it"; exit 1
	fi
	mv "$tmp/$n.env" "$f"
	say "wrote $f"
done
if [ -e "$dir/redis-admin.env" ]; then
	say "kept $dir/redis-admin.env"
else
	(umask 077 && echo "REDISCLI_AUTH=$(secret ADMIN)" >"$dir/redis-admin.env")
	say "wrote $dir/redis-admin.env (the default Redis user's password, for redis-cli)"
fi

if [ -e "$conf" ]; then
	say "kept $conf"
	for n in tickets ops worker; do
		h=$(printf '%s' "$(secret "${n^^}")" | sha256sum | cut -d' ' -f1)
		grep -q "^user ticketing-$n on #$h " "$conf" ||
			say "WARNING: $conf does not know the Redis password in $dir/$n.env: set user ticketing-$n's (ACL SETUSER, and the file), or remove $conf and run make install again"
	done
else
	install -d "$(dirname "$conf")"
	install -m 0600 "$tmp/ticketing.conf" "$conf"
	# Redis (user redis) reads it.
	if getent group redis >/dev/null && chgrp redis "$conf" 2>/dev/null; then chmod 0640 "$conf"; fi
	say "wrote $conf: add \"include ${conf#"${DESTDIR:-}"}\" to redis.conf and restart Redis"
fi
