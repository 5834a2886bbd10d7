#!/usr/bin/env bash
# cgi.sh: the CGI-mode setup (nginx/cgi.conf.in) tested: a small nginx on
# a free port and fcgiwrap on a unix socket, both started here and stopped
# by their PIDs, run the same binaries ($BIN) as plain CGI programs against
# the running stack's Postgres and Redis ($DATA/env). A few requests; ends
# with "N passed, N failed".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
: "${DATA:?}" "${BIN:?}"
. "$DATA/env"
CGI=$RUN_DIR/cgi
LOG=$DATA/log
mkdir -p "$CGI"
passed=0 failed=0

free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768+)
		(echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}
port=$(free_port)
if [ "$(id -u)" = 0 ]; then user_line="user www-data;"; group=www-data; else user_line=""; group=""; fi

# The programs' environment, as FastCGI parameters (values quoted).
{
	echo "fastcgi_pass unix:$CGI/fcgiwrap.sock;"
	echo 'fastcgi_param HTTP_PROXY "";'
	echo 'fastcgi_param REQUEST_ID $request_id;'
	echo 'include /etc/nginx/fastcgi_params;'
	echo "fastcgi_param SCRIPT_FILENAME $BIN/\$prog;"
	for v in AUTH_DATABASE_URL TICKETS_DATABASE_URL ORDERS_DATABASE_URL \
		PAYMENTS_DATABASE_URL OPS_DATABASE_URL REDIS_URL REDIS_PREFIX JWT_KEY \
		TEMPLATE_DIR PASSWORD_COST METRICS_DIR ASAN_OPTIONS UBSAN_OPTIONS; do
		[ -n "${!v:-}" ] && printf 'fastcgi_param %s "%s";\n' "$v" "${!v}"
	done
} >"$CGI/cgi-params.conf"
chmod 0600 "$CGI/cgi-params.conf"
sed -e "s|@CGI@|$CGI|g" -e "s|@ROOT@|$ROOT|g" -e "s|@PORT@|$port|g" \
	-e "s|@LOG@|$LOG|g" -e "s|@USER_LINE@|$user_line|" \
	"$ROOT/nginx/cgi.conf.in" >"$CGI/nginx.conf"

fcgiwrap -c 1 -s "unix:$CGI/fcgiwrap.sock" </dev/null >>"$LOG/fcgiwrap.log" 2>&1 &
echo $! >"$CGI/fcgiwrap.pid"
for _ in $(seq 100); do [ -S "$CGI/fcgiwrap.sock" ] && break; sleep 0.05; done
[ -n "$group" ] && chgrp "$group" "$CGI/fcgiwrap.sock"
chmod 0660 "$CGI/fcgiwrap.sock"
nginx -p "$CGI" -c "$CGI/nginx.conf" -e "$LOG/cgi-nginx-error.log"
for _ in $(seq 100); do [ -s "$CGI/nginx.pid" ] && break; sleep 0.05; done

stop() {
	local f p
	for f in nginx fcgiwrap; do
		[ -s "$CGI/$f.pid" ] || continue
		p=$(cat "$CGI/$f.pid")
		kill -"$([ $f = nginx ] && echo QUIT || echo TERM)" "$p" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
		kill -KILL "$p" 2>/dev/null
	done
	rm -rf "$CGI"
}
trap stop EXIT

base=http://127.0.0.1:$port
check() { # name, want status, want text, curl args...
	local name=$1 want=$2 text=$3 out code; shift 3
	out=$(curl -s -m 20 -o - -w '\n%{http_code}' "$@")
	code=${out##*$'\n'}
	if [ "$code" = "$want" ] && grep -qF -- "$text" <<<"$out"; then
		echo "  ok $name"; passed=$((passed + 1))
	else
		echo "  FAILED $name: status $code, body ${out:0:300}"; failed=$((failed + 1))
	fi
}
email="cgi-$RANDOM$RANDOM@test.com"
check "currentuser (auth)" 200 '{"currentUser":null}' "$base/api/users/currentuser"
check "signup (auth, POST)" 201 "\"email\":\"$email\"" -H 'Content-Type: application/json' \
	-d "{\"email\":\"$email\",\"password\":\"password\"}" "$base/api/users/signup"
check "tickets list (tickets)" 200 '[' "$base/api/tickets"
check "landing page (tickets, HTML)" 200 'GitTix' "$base/"
check "orders need a session (orders)" 401 'Not authorized' "$base/api/orders"
check "health (ops)" 200 '"status":"ok"' "$base/api/health"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
