#!/usr/bin/env bash
# pg_tls_scram.sh: a release program (Debian's libpq and OpenSSL) against
# a Postgres that asks what a hosted one asks: TLS, and SCRAM-SHA-256
# passwords. A throwaway cluster on a
# free port: ssl on with a certificate made here, the tickets role with a
# password, pg_hba accepting it only over TLS with scram-sha-256. The
# tickets program, run as a CGI program (one request), must answer the
# list over such a connection (the server's log must say TLS and SCRAM),
# and must refuse with a wrong password or without TLS.
# Needs: DATA (scratch space), BIN (the programs). Ends "N passed, N failed".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
: "${DATA:?}" "${BIN:?}"
D=$DATA/pg-tls
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
if [ "$(id -u)" = 0 ]; then AS_PG="runuser -u postgres --"; else AS_PG=""; fi
passed=0 failed=0
check() { # name, condition result (0 = ok), detail
	if [ "$2" -eq 0 ]; then
		echo "ok: $1"; passed=$((passed + 1))
	else
		echo "FAILED: $1: $3"; failed=$((failed + 1))
	fi
}
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 12000))
		(echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}

rm -rf "$D" && mkdir -p "$D" && chmod 0700 "$D"
[ -n "$AS_PG" ] && chown postgres:postgres "$D"
port=$(free_port)
$AS_PG "$PGBIN/initdb" -D "$D/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
	>"$D/initdb.log" 2>&1 || { cat "$D/initdb.log"; echo "0 passed, 1 failed"; exit 1; }
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
	-keyout "$D/data/server.key" -out "$D/data/server.crt" >/dev/null 2>&1
chmod 0600 "$D/data/server.key"
[ -n "$AS_PG" ] && chown postgres:postgres "$D/data/server.key" "$D/data/server.crt"
cat >"$D/data/pg_hba.conf" <<EOF
local     all        postgres                 trust
hostssl   ticketing  tickets   127.0.0.1/32  scram-sha-256
EOF
$AS_PG "$PGBIN/pg_ctl" -D "$D/data" -l "$D/server.log" -w -t 60 -o "-p $port \
	-k $D -c listen_addresses=127.0.0.1 -c ssl=on -c log_connections=on \
	-c password_encryption=scram-sha-256 -c fsync=off" start >/dev/null ||
	{ cat "$D/server.log"; echo "0 passed, 1 failed"; exit 1; }
stop() { $AS_PG "$PGBIN/pg_ctl" -D "$D/data" -m fast -w stop >/dev/null 2>&1; }
trap stop EXIT

su="host=$D port=$port user=postgres"
pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
psql "$su dbname=postgres" -Xqc "CREATE DATABASE ticketing" >/dev/null &&
	"$ROOT/scripts/migrate.sh" "$su dbname=ticketing" >/dev/null &&
	psql "$su dbname=ticketing" -Xqc "ALTER ROLE tickets PASSWORD '$pw'" >/dev/null
check "cluster with TLS, SCRAM and the migrations" $? "see $D/server.log"

list() { # conninfo -> the CGI answer of GET /api/tickets
	REQUEST_METHOD=GET DOCUMENT_URI=/api/tickets TICKETS_DATABASE_URL="$1" \
		JWT_KEY="${JWT_KEY:-$(head -c 48 /dev/urandom | base64 -w0)}" \
		TEMPLATE_DIR="$ROOT/templates" "$BIN/tickets" </dev/null 2>>"$D/cgi.log"
}
tcp="host=127.0.0.1 port=$port dbname=ticketing user=tickets"

out=$(list "$tcp password=$pw sslmode=verify-ca sslrootcert=$D/data/server.crt")
grep -q '^Status: 200 OK' <<<"$out" && grep -qx '\[\]' <<<"$(sed '1,/^\r\?$/d' <<<"$out" | tr -d '\r')"
check "GET /api/tickets over TLS (verify-ca) with a SCRAM password" $? "$out"
grep -q 'connection authenticated: identity="tickets" method=scram-sha-256' "$D/server.log"
check "the server authenticated it with scram-sha-256" $? "$(grep -c authenticated "$D/server.log") lines"
grep -qE 'connection authorized: user=tickets database=ticketing.*SSL enabled' "$D/server.log"
check "the server saw TLS" $? "$(grep 'authorized' "$D/server.log" | tail -1)"

# Refusals: the program answers (503, the database being unavailable to
# it) and the server says why.
out=$(list "$tcp password=wrong-$pw sslmode=require")
grep -q '^Status: 503' <<<"$out" &&
	grep -q 'password authentication failed for user "tickets"' "$D/server.log"
check "a wrong password is refused" $? "$out"
out=$(list "$tcp password=$pw sslmode=disable")
grep -q '^Status: 503' <<<"$out" &&
	grep -q 'no pg_hba.conf entry for host "127.0.0.1", user "tickets", database "ticketing", no encryption' "$D/server.log"
check "no TLS, no connection" $? "$out"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
