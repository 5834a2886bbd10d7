#!/usr/bin/env bash
# install.sh: `make install` into a DESTDIR, and what it installed (issue
# 16, attack 8, on an installed host):
#   - the files and their modes: programs, one service and one socket unit
#     per FastCGI program and the worker's, sysusers.d and tmpfiles.d,
#     /etc/ticketing 0700 with one env file per program (0600), the Redis
#     users in /etc/redis/ticketing.conf;
#   - no example secret left, one random JWT_KEY shared by the web
#     programs, a Redis password per role; each file holds only its own
#     program's secrets;
#   - a second make install keeps every file an operator may have edited,
#     and a removed one comes back with the others' JWT_KEY;
#   - the units pass systemd-analyze verify; systemd-sysusers and
#     systemd-tmpfiles make the users and /run/ticketing/metrics;
#   - Postgres takes the installed peer rule and map (each program's OS
#     user as its own roles);
#   - Redis run with the installed users refuses an unauthenticated XADD
#     payment:created and admits each role with its env file's password,
#     the tickets role without XADD;
#   - the installed programs with their env files: auth starts; payments
#     and the worker refuse to start until STRIPE_KEY is set;
#   - as root: a socket made as ticketing-NAME.socket makes it (root,
#     group www-data, 0660) and handed on fd 0 to the program run as
#     another user answers FastCGI for www-data (nginx) and no one else.
# Needs the release programs (make install builds them if missing). Ends
# with "N passed, N failed".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
passed=0 failed=0
check() { # name, 0 if ok, detail
	if [ "$2" -eq 0 ]; then echo "ok: $1"; passed=$((passed + 1))
	else echo "FAILED: $1: $3"; failed=$((failed + 1)); fi
}
T=$(mktemp -d /tmp/tixinstall.XXXXXX)
chmod 0755 "$T" # the programs run as another user below read templates here
D=$T/root P=/usr/local
ETC=$D/etc/ticketing
WEB="auth tickets orders payments ops"
NAMES="$WEB worker"
redis_pid= prog_pid= AS_PG= PGBIN=
cleanup() {
	[ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null
	[ -n "$prog_pid" ] && kill "$prog_pid" 2>/dev/null
	[ -s "$T/pg/data/postmaster.pid" ] && $AS_PG "$PGBIN/pg_ctl" -D "$T/pg/data" -m immediate -w stop >/dev/null 2>&1
	if [ "$failed" -eq 0 ]; then rm -rf "$T"; else echo "install: files in $T"; fi
}
trap cleanup EXIT
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 12000))
		(echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}
var() { sed -n "s/^$1=//p" "$2" | tail -1; }
# An env file's variables, as systemd reads them, exported (in a subshell).
load_env() { local l; while IFS= read -r l; do case $l in '#'* | '') ;; *) export "${l?}" ;; esac; done <"$1"; }

# ---- files and modes -------------------------------------------------------------
make --no-print-directory install PREFIX=$P DESTDIR="$D" >"$T/install.log" 2>&1
check "make install DESTDIR=..." $? "$(tail -5 "$T/install.log")"
bad=""
for n in $NAMES; do
	[ "$(stat -c %a "$D$P/libexec/ticketing/$n" 2>&1)" = 755 ] || bad="$bad libexec/$n"
	u=$D$P/lib/systemd/system/ticketing-$n.service
	grep -qx "User=ticketing-$n" "$u" && grep -qx "EnvironmentFile=/etc/ticketing/$n.env" "$u" ||
		bad="$bad ticketing-$n.service"
done
for n in $WEB; do
	s=$D$P/lib/systemd/system/ticketing-$n.socket
	grep -qx "ListenStream=/run/ticketing/$n.sock" "$s" && grep -qx SocketGroup=www-data "$s" &&
		grep -qx SocketMode=0660 "$s" && grep -qx StandardInput=socket "${s%.socket}.service" ||
		bad="$bad ticketing-$n.socket"
done
for f in lib/systemd/system/ticketing.target lib/sysusers.d/ticketing.conf lib/tmpfiles.d/ticketing.conf; do
	[ -f "$D$P/$f" ] || bad="$bad $f"
done
left=$(grep -rlE '^[^#]*@[A-Z_]+@' "$D$P/lib" "$D$P/share/ticketing/env" "$D/etc" 2>/dev/null)
[ -z "$bad$left" ]
check "programs, units (a service and a socket per program), sysusers.d, tmpfiles.d" $? \
	"wrong or missing:$bad; placeholders left in: $left"
modes="$(stat -c %a "$ETC")"
for n in $NAMES redis-admin; do modes="$modes $(stat -c %a "$ETC/$n.env" 2>&1)"; done
want="700 600 600 600 600 600 600 600"
rconf=$D/etc/redis/ticketing.conf
rmode=$(stat -c '%a %G' "$rconf" 2>&1)
if [ "$(id -u)" = 0 ] && getent group redis >/dev/null; then rwant="640 redis"; else rwant="600 $(id -gn)"; fi
[ "$modes" = "$want" ] && [ "$rmode" = "$rwant" ]
check "/etc/ticketing 0700, every env file 0600, the Redis users $rwant" $? \
	"modes: $modes (want $want), $rconf: $rmode"

# ---- secrets -------------------------------------------------------------------------
ex=$(grep -l -E '^[^#]*change-me' "$ETC"/*.env "$rconf" 2>/dev/null)
[ -z "$ex" ]
check "no example secret is left in what make install wrote" $? "in: $ex"
key=$(var JWT_KEY "$ETC/auth.env") bad=""
for n in $WEB; do [ "$(var JWT_KEY "$ETC/$n.env")" = "$key" ] || bad="$bad $n"; done
[ ${#key} -ge 32 ] && [ -z "$bad" ] && ! grep -q '^JWT_KEY=' "$ETC/worker.env"
check "one random JWT_KEY (${#key} bytes) in every web program's file, none in the worker's" $? \
	"differs in:$bad"
# Which secret variables each file may hold; any other is a leak.
declare -A own=([auth]="AUTH_DATABASE_URL JWT_KEY" [tickets]="JWT_KEY REDIS_URL TICKETS_DATABASE_URL"
	[orders]="JWT_KEY ORDERS_DATABASE_URL" [payments]="JWT_KEY PAYMENTS_DATABASE_URL STRIPE_KEY"
	[ops]="JWT_KEY OPS_DATABASE_URL REDIS_URL"
	[worker]="ORDERS_DATABASE_URL PAYMENTS_DATABASE_URL REDIS_URL STRIPE_KEY TICKETS_DATABASE_URL")
bad=""
for n in $NAMES; do
	has=$(grep -oE '^(JWT_KEY|[A-Z]+_DATABASE_URL|DATABASE_URL|REDIS_URL|STRIPE_KEY)=' "$ETC/$n.env" |
		tr -d = | sort | tr '\n' ' ')
	[ "$has" = "${own[$n]} " ] || bad="$bad $n: [$has] want [${own[$n]}];"
done
[ -z "$bad" ]
check "each env file holds its own program's secrets only" $? "$bad"
pws=""
for n in tickets ops worker; do
	u=$(var REDIS_URL "$ETC/$n.env"); pw=${u#redis://ticketing-$n:}; pw=${pw%@*}
	pws="$pws $pw"
	grep -q "^user ticketing-$n on #$(printf '%s' "$pw" | sha256sum | cut -d' ' -f1) " "$rconf" ||
		bad="$bad $n"
done
pws="$pws $(var REDISCLI_AUTH "$ETC/redis-admin.env")"
[ -z "$bad" ] && [ "$(tr ' ' '\n' <<<"$pws" | grep -c .)" = 4 ] &&
	[ "$(tr ' ' '\n' <<<"$pws" | grep . | sort -u | wc -l)" = 4 ] && ! grep -q '>' "$rconf"
check "a Redis password per role, in its env file, only its hash in the Redis configuration" $? \
	"mismatched:$bad"

# ---- make install again --------------------------------------------------------------
echo "# the operator's" >>"$ETC/auth.env"
sums=$(cd "$D/etc" && sha256sum ticketing/* redis/*)
make --no-print-directory install PREFIX=$P DESTDIR="$D" >"$T/install2.log" 2>&1
[ "$sums" = "$(cd "$D/etc" && sha256sum ticketing/* redis/*)" ]
check "make install again keeps every configuration file" $? "$(grep wrote "$T/install2.log")"
rm "$ETC/orders.env"
make --no-print-directory install PREFIX=$P DESTDIR="$D" >"$T/install3.log" 2>&1
[ "$(var JWT_KEY "$ETC/orders.env")" = "$key" ] && [ "$(stat -c %a "$ETC/orders.env")" = 600 ]
check "a removed env file comes back, with the others' JWT_KEY" $? "$(grep install-config "$T/install3.log")"

# ---- systemd's own tools ---------------------------------------------------------------
# verify needs the programs at ExecStart's paths: an install without DESTDIR.
make --no-print-directory install PREFIX="$T/p" SYSCONFDIR="$T/etc" >"$T/install-p.log" 2>&1
out=$(cd "$T/p/lib/systemd/system" && systemd-analyze verify --man=no "$PWD"/ticketing-*.service \
	"$PWD"/ticketing-*.socket "$PWD"/ticketing.target 2>&1)
rc=$?
[ "$rc" = 0 ] && [ -z "$out" ]
check "systemd-analyze verify: the units" $? "exit $rc: $out"
out=$(systemd-sysusers --root="$D" 2>&1)
bad=""
for n in $NAMES; do grep -q "^ticketing-$n:" "$D/etc/passwd" || bad="$bad ticketing-$n"; done
grep -q '^ticketing:' "$D/etc/group" || bad="$bad group ticketing"
[ -z "$bad" ]
check "systemd-sysusers makes a user per program and group ticketing" $? "missing:$bad; $out"
out=$(systemd-tmpfiles --root="$D" --create "$D$P/lib/tmpfiles.d/ticketing.conf" 2>&1)
gid=$(sed -n 's/^ticketing:x:\([0-9]*\):.*/\1/p' "$D/etc/group")
got=$(stat -c '%a %g' "$D/run/ticketing/metrics" 2>&1)
[ "$got" = "3770 $gid" ] && [ "$(stat -c %a "$D/run/ticketing")" = 755 ]
check "systemd-tmpfiles makes /run/ticketing/metrics 3770 group ticketing" $? "$got (gid $gid); $out"

# ---- Postgres with the installed peer map ----------------------------------------------
# A throwaway cluster with the rule and the map added, the migrations run:
# both parse, and every OS user of the map is a program's user and every
# role a login role of the migrations.
if [ "$(id -u)" = 0 ]; then AS_PG="runuser -u postgres --"; else AS_PG=""; fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pg=$T/pg
mkdir -p "$pg" && chmod 0700 "$pg" && { [ -z "$AS_PG" ] || chown postgres "$pg"; }
pgport=$(free_port)
{ $AS_PG "$PGBIN/initdb" -D "$pg/data" -U postgres --auth-local=peer --auth-host=reject \
	-E UTF8 --locale=C.UTF-8 && $AS_PG sh -c "{ grep -v '^#' '$D$P/share/ticketing/postgres/pg_hba.conf';
		cat '$pg/data/pg_hba.conf'; } >'$pg/hba' && mv '$pg/hba' '$pg/data/pg_hba.conf' &&
		cat '$D$P/share/ticketing/postgres/pg_ident.conf' >>'$pg/data/pg_ident.conf'" &&
	$AS_PG "$PGBIN/pg_ctl" -D "$pg/data" -l "$pg/log" -w -t 60 \
		-o "-k $pg -p $pgport -c listen_addresses=" start &&
	$AS_PG psql "host=$pg port=$pgport user=postgres dbname=postgres" -Xqc 'CREATE DATABASE ticketing' &&
	$AS_PG "$D$P/share/ticketing/scripts/migrate.sh" "host=$pg port=$pgport user=postgres dbname=ticketing"
} >"$T/pg.log" 2>&1
q() { $AS_PG psql "host=$pg port=$pgport user=postgres dbname=ticketing" -XAtc "$1" 2>&1; }
errs="$(q "SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL") $(q "SELECT count(*) FROM pg_ident_file_mappings WHERE error IS NOT NULL")"
rule=$(q "SELECT line_number, options[1] FROM pg_hba_file_rules ORDER BY line_number LIMIT 1")
bad=""
while read -r sys role; do
	grep -q "^ticketing-$(cut -d- -f2 <<<"$sys"):" "$D/etc/passwd" || bad="$bad $sys"
	[ "$(q "SELECT rolcanlogin FROM pg_roles WHERE rolname = '$role'")" = t ] || bad="$bad $role"
done < <(q "SELECT sys_name, pg_username FROM pg_ident_file_mappings WHERE map_name = 'ticketing'" | tr '|' ' ')
[ "$errs" = "0 0" ] && [ "${rule#*|}" = map=ticketing ] && [ -z "$bad" ]
check "Postgres: the installed peer rule (first) and map parse; their users and roles exist" $? \
	"errors (hba, ident): $errs; first rule: $rule; unknown:$bad; $(tail -3 "$T/pg.log")"
$AS_PG "$PGBIN/pg_ctl" -D "$pg/data" -m immediate -w stop >/dev/null 2>&1

# ---- Redis with the installed users ---------------------------------------------------
port=$(free_port)
redis-server "$rconf" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$T" \
	--daemonize yes --pidfile "$T/redis.pid" --logfile "$T/redis.log" >/dev/null
for _ in $(seq 100); do [ -s "$T/redis.pid" ] && break; sleep 0.05; done
redis_pid=$(cat "$T/redis.pid" 2>/dev/null)
rcli() { # user ("" for none) password, command...
	local u=$1 pw=$2; shift 2
	REDISCLI_AUTH=$pw redis-cli -p "$port" ${u:+--user "$u"} "$@" 2>&1
}
for _ in $(seq 100); do [ "$(rcli "" "$(var REDISCLI_AUTH "$ETC/redis-admin.env")" ping)" = PONG ] && break; sleep 0.05; done
out=$(env -u REDISCLI_AUTH redis-cli -p "$port" XADD payment:created '*' id x data '{}' 2>&1)
grep -q NOAUTH <<<"$out"
check "installed Redis: an unauthenticated XADD payment:created is refused" $? "$out"
bad=""
for n in tickets ops worker; do
	u=$(var REDIS_URL "$ETC/$n.env"); pw=${u#redis://ticketing-$n:}; pw=${pw%@*}
	[ "$(rcli "ticketing-$n" "$pw" ping)" = PONG ] || bad="$bad $n"
done
[ "$(rcli "" "$(var REDISCLI_AUTH "$ETC/redis-admin.env")" ping)" = PONG ] || bad="$bad admin"
u=$(var REDIS_URL "$ETC/tickets.env"); pw=${u#redis://ticketing-tickets:}; pw=${pw%@*}
out=$(rcli ticketing-tickets "$pw" XADD payment:created '*' id x data '{}')
[ -z "$bad" ] && grep -q NOPERM <<<"$out"
check "installed Redis: each role signs in with its env file's password; tickets may not XADD" $? \
	"failed:$bad; tickets XADD: $out"

# ---- the installed programs with their env files ----------------------------------------
run_with() { # name, env file, program args...: exit status within 5 s (124: still running)
	local f=$2 n=$1; shift 2
	(load_env "$f"; export TEMPLATE_DIR=$D$P/share/ticketing/templates METRICS_DIR=
		exec timeout 5 "$D$P/libexec/ticketing/$n" "$@") </dev/null >"$T/$n.out" 2>&1
}
run_with auth "$ETC/auth.env" --socket "$T/auth.sock" --threads 1
[ $? = 124 ] && grep -q 'serving' "$T/auth.out"
check "auth starts with its installed env file" $? "$(tail -c 300 "$T/auth.out")"
run_with payments "$ETC/payments.env" --socket "$T/payments.sock" --threads 1
rc=$?
[ $rc != 124 ] && [ $rc != 0 ] && grep -q STRIPE_KEY "$T/payments.out"
check "payments refuses to start until STRIPE_KEY is set" $? "exit $rc: $(tail -c 300 "$T/payments.out")"
run_with worker "$ETC/worker.env"
rc=$?
[ $rc != 124 ] && [ $rc != 0 ] && grep -q STRIPE_KEY "$T/worker.out"
check "the worker refuses to start until STRIPE_KEY is set" $? "exit $rc: $(tail -c 300 "$T/worker.out")"

# ---- the socket as its .socket unit makes it (root only) ------------------------------
if [ "$(id -u)" = 0 ]; then
	sock=$T/run/auth.sock
	mkdir -p "$T/run" && chmod 0755 "$T/run"
	# root makes the socket (root:www-data 0660), the program gets it on fd 0
	# and runs as nobody, as systemd would run it as ticketing-auth.
	(load_env "$ETC/auth.env"; export TEMPLATE_DIR=$D$P/share/ticketing/templates METRICS_DIR=
		exec perl -MSocket -e '
			my ($path, @cmd) = @ARGV;
			socket(my $s, PF_UNIX, SOCK_STREAM, 0) or die "socket: $!";
			bind($s, pack_sockaddr_un($path)) or die "bind: $!";
			listen($s, 128) or die "listen: $!";
			chown(0, scalar getgrnam("www-data"), $path) && chmod(0660, $path) or die "chown: $!";
			open(STDIN, "<&", $s) or die "dup: $!";
			exec(@cmd) or die "exec: $!";' "$sock" runuser -u nobody -- "$D$P/libexec/ticketing/auth" --threads 2
	) >"$T/auth-fd0.out" 2>&1 &
	prog_pid=$!
	for _ in $(seq 100); do grep -q serving "$T/auth-fd0.out" && break; sleep 0.05; done
	ask() { # user: the FastCGI answer to GET /api/users/currentuser
		runuser -u "$1" -- env -i REQUEST_METHOD=GET DOCUMENT_URI=/api/users/currentuser \
			SCRIPT_NAME=/api/users/currentuser REQUEST_URI=/api/users/currentuser \
			SERVER_PROTOCOL=HTTP/1.1 cgi-fcgi -bind -connect "$sock" </dev/null 2>&1
	}
	a=$(ask www-data) b=$(ask nobody)
	grep -q '{"currentUser":null}' <<<"$a" && ! grep -q currentUser <<<"$b" &&
		[ "$(stat -c '%a %U %G' "$sock")" = "660 root www-data" ]
	check "a socket made as the .socket unit does: the program answers www-data (nginx), no one else" $? \
		"www-data got: ${a:0:200}; nobody (the program's user) got: ${b:0:200}; $(tail -c 300 "$T/auth-fd0.out")"
	kill "$prog_pid" 2>/dev/null; wait "$prog_pid" 2>/dev/null; prog_pid=
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
