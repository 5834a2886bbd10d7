#!/usr/bin/env bash
# make_run.sh: `make run` (scripts/run.sh, release programs) on a
# throwaway DATA and free ports, attacked and stopped as issue 16 (attack
# 10) describes:
#   - private: a directory at the old predictable run path, made first by
#     someone else, is not used; DATA, the Postgres socket directory, the
#     run directory and the secrets admit no one else; Postgres has only
#     peer rules on its socket (and, as root, user nobody cannot connect);
#     Redis refuses a client without the password;
#   - a second make run of the same checkout says so and exits 1, the
#     first untouched; one whose port is taken exits 1 with the reason and
#     leaves nothing running;
#   - stopped by Ctrl-C typed in its terminal (script(1) gives it one),
#     its terminal closed (SIGHUP, and the terminal gone), SIGTERM to its
#     process group (with the terminal, and as make run | cat, whose cat
#     dies too), SIGINT to its process group, SIGTERM or SIGHUP to make run
#     alone: it exits 0 (where that can be seen) and no process and no
#     port of its stack is left;
#   - after kill -9 of make run alone, the next make run says so, stops the
#     leftovers and starts; stopped, nothing of either is left.
# Other stacks (make test's own, BASE_URL) must keep answering throughout.
# Needs BIN (default build/release/bin); ends with "N passed, N failed".
set -uo pipefail
set -m # background jobs in their own process group, SIGINT not ignored
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
OTHER=${BASE_URL:-}
# Nothing of the caller's stack (make test sources its env file) leaks in.
unset RUN_DIR METRICS_DIR REDISCLI_AUTH REDIS_URL DATABASE_URL BASE_URL JWT_KEY
export BIN=${BIN:-$ROOT/build/release/bin} PAYMENT_PROVIDER=test
S=$(mktemp -d /tmp/tixrun.XXXXXX)
chmod 0711 "$S" # as a checkout: Postgres (user postgres when root) must reach DATA
export DATA=$S/data
passed=0 failed=0
check() { # name, 0 if ok, detail
	if [ "$2" -eq 0 ]; then echo "ok: $1"; passed=$((passed + 1))
	else echo "FAILED: $1: $3"; failed=$((failed + 1)); fi
}
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 12000))
		(echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}
export PORT=$(free_port) REDIS_PORT=$(free_port) PG_PORT=$(free_port)
OLD_RUN=/tmp/tix-$(id -u)-$PORT # where make run used to put its sockets
listening() { (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
alive() { [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

leader= job= started_as= all=""
cleanup() {
	local p
	exec 7>&- 2>/dev/null
	for p in $leader $job; do kill -KILL "$p" 2>/dev/null; done
	for d in "$DATA" "$S/data2"; do DATA=$d scripts/stack.sh down >/dev/null 2>&1; done
	for p in $all; do alive "$p" && kill -KILL "$p" 2>/dev/null; done
	rm -rf "$OLD_RUN"
	if [ "$failed" -eq 0 ]; then rm -rf "$S"; else echo "make_run: logs in $S"; fi
}
trap cleanup EXIT

# make run in the background, its output in $2; 0 once it serves. $leader
# is make run, the leader of its process group; $job what we wait for.
#   file   its output to a file; its exit status is wait's
#   tty    in a terminal (script(1)): fd 7 writes what is typed, closing
#          the terminal is killing script; its exit status is script's
#   pipe   make run | cat, both in the process group (as make run | tee)
start() { # mode, output file
	local i
	leader= job= started_as=$1
	case $1 in
	file) scripts/run.sh </dev/null >"$2" 2>&1 & job=$!; leader=$job ;;
	tty)
		rm -f "$S/tty.in" && mkfifo "$S/tty.in"
		script -qfec "exec scripts/run.sh" /dev/null <"$S/tty.in" >"$2" 2>&1 &
		job=$!
		exec 7>"$S/tty.in"
		for i in $(seq 100); do
			leader=$(ps -o pid= --ppid "$job" | tr -d ' ' | head -1)
			[ -n "$leader" ] && break; sleep 0.05
		done
		;;
	pipe)
		scripts/run.sh </dev/null 2>&1 | cat >"$2" &
		job=$!; leader=$(ps -o pgid= "$job" | tr -d ' ')
		;;
	esac
	for i in $(seq 1200); do
		grep -q 'Ticketing is running' "$2" && return 0
		[ -n "$leader" ] && alive "$leader" || return 1
		sleep 0.1
	done
	return 1
}
# Every process of the running stack: make run's process group, what the
# run directory and the cluster record, and their children.
procs() {
	local run p
	run=$(cat "$DATA/run_dir" 2>/dev/null)
	{
		ps -o pid= -g "$leader"
		[ -n "$run" ] && cat "$run"/*.pid "$run"/*.child 2>/dev/null
		head -1 "$DATA/pg/data/postmaster.pid" 2>/dev/null
	} | tr -d ' ' | grep -E '^[0-9]+$' | sort -u | while read -r p; do
		echo "$p"; ps -o pid= --ppid "$p" | tr -d ' '
	done | sort -u
}
cmdline() { tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline"; }
# What is left of a stack of DATA: the processes of $1 still alive, any
# process naming DATA or the run directory, its ports and sockets (unless
# $3 is "noports"), the run directory. "" when nothing.
leftovers() { # pids, run directory, [noports]
	local p c out=""
	for p in $1; do alive "$p" && out="$out pid $p ($(cmdline "$p" | cut -c1-60))"; done
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		c=$(cmdline "$p")
		if [[ $c == *"$DATA"* || ( -n $2 && $c == *"$2"* ) ]] && alive "$p"; then
			out="$out pid $p (${c:0:60})"
		fi
	done
	if [ "${3:-}" != noports ]; then
		listening "$PORT" && out="$out port $PORT (nginx)"
		listening "$REDIS_PORT" && out="$out port $REDIS_PORT (redis)"
	fi
	[ -S "$DATA/pg/.s.PGSQL.$PG_PORT" ] && out="$out the Postgres socket"
	[ -n "$2" ] && [ -e "$2" ] && out="$out the run directory $2"
	echo "$out"
}
other_ok() {
	[ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$OTHER/api/tickets")" = 200 ]
}
# Stop the running make run, and check it left nothing.
#   ctrl-c       Ctrl-C typed in its terminal (tty)
#   hangup       its terminal closed (tty): SIGHUP, the terminal gone
#   group:SIG    SIG to its process group
#   alone:SIG    SIG to make run alone
stop_with() { # name, how
	local pids run rc= left i
	pids=$(procs); all="$all $pids"
	run=$(cat "$DATA/run_dir" 2>/dev/null)
	case $2 in
	ctrl-c) printf '\003' >&7 ;;
	hangup) kill -KILL "$job" ;;
	group:*) kill -"${2#group:}" -- "-$leader" ;;
	alone:*) kill -"${2#alone:}" "$leader" ;;
	esac
	for i in $(seq 600); do alive "$leader" || break; sleep 0.1; done
	if alive "$leader"; then
		check "$1: make run ends" 1 "still running 60 s after it was told to stop"
		kill -KILL "$leader"
	fi
	wait "$job"; rc=$?
	exec 7>&- 2>/dev/null
	sleep 0.5 # what the stop started (pg_ctl, kill) settles
	# Its exit status, where someone is left to see it.
	[ "$2" = hangup ] || [ "$started_as" = pipe ] && rc=
	leader= job=
	if [ -n "$rc" ]; then
		[ "$rc" -eq 0 ]
		check "$1: make run exits 0" $? "exit status $rc"
	fi
	left=$(leftovers "$pids" "$run")
	[ -z "$left" ]
	check "$1: nothing is left" $? "left:$left"
	if [ -n "$OTHER" ]; then
		other_ok
		check "$1: other stacks keep running" $? "$OTHER stopped answering"
	fi
}

[ -z "$OTHER" ] || other_ok || { echo "make_run: $OTHER does not answer: not checked"; OTHER=; }

# ---- private ---------------------------------------------------------------------
rm -rf "$OLD_RUN" && mkdir -m 0777 "$OLD_RUN"
[ "$(id -u)" = 0 ] && chown nobody "$OLD_RUN"
if start file "$S/run1.out"; then
	check "make run starts" 0 ""
else
	check "make run starts" 1 "$(tail -n 20 "$S/run1.out")"
	echo "$passed passed, $failed failed"; exit 1
fi
. "$DATA/env"
[ "$RUN_DIR" != "$OLD_RUN" ] && [ -z "$(ls -A "$OLD_RUN")" ] && [ -O "$RUN_DIR" ]
check "a run directory made first by someone else is not used" $? \
	"run directory $RUN_DIR; $OLD_RUN holds: $(ls -A "$OLD_RUN" | head -5 | tr '\n' ' ')"
mode() { stat -c '%a %G' "$1"; }
if [ "$(id -u)" = 0 ]; then
	want_data="710 postgres" want_run="710 www-data"
else
	want_data="700 $(id -gn)" want_run="700 $(id -gn)"
fi
[ "$(mode "$DATA")" = "$want_data" ] && [ "$(mode "$RUN_DIR")" = "$want_run" ] &&
	[ "$(stat -c %a "$DATA/pg")" = 700 ] && [ "$(stat -c %a "$DATA/env")" = 600 ] &&
	[ "$(stat -c %a "$DATA/secrets.env")" = 600 ] && [ "$(stat -c %a "$DATA/jwt_key")" = 600 ]
check "DATA, the Postgres socket directory, the run directory and the secrets are private" $? \
	"DATA $(mode "$DATA"), pg $(mode "$DATA/pg"), run $(mode "$RUN_DIR"), env $(stat -c %a "$DATA/env"), secrets $(stat -c %a "$DATA/secrets.env"), jwt_key $(stat -c %a "$DATA/jwt_key")"
rules=$(psql "$DATABASE_URL" -XAtc "SELECT type || ' ' || auth_method FROM pg_hba_file_rules" 2>&1 | sort -u)
[ "$rules" = "local peer" ]
check "Postgres admits peer authentication on its socket only" $? "pg_hba rules: $(echo $rules)"
if [ "$(id -u)" = 0 ]; then
	out=$(runuser -u nobody -- psql "host=$DATA/pg port=$PG_PORT user=postgres dbname=postgres" \
		-XAtc 'SELECT 1' 2>&1)
	[ "$out" != 1 ]
	check "another OS user cannot connect to Postgres" $? "psql as nobody: $out"
fi
out=$(env -u REDISCLI_AUTH redis-cli -p "$REDIS_PORT" ping 2>&1)
grep -q NOAUTH <<<"$out"
check "Redis refuses a client without the password" $? "redis-cli ping: $out"

# ---- a second make run ------------------------------------------------------------
before=$(procs)
timeout 60 scripts/run.sh </dev/null >"$S/second.out" 2>&1
rc=$?
gone=""; for p in $before; do alive "$p" || gone="$gone $p"; done
[ "$rc" -eq 1 ] && grep -q 'already running' "$S/second.out" && [ -z "$gone" ] &&
	[ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/api/tickets")" = 200 ]
check "a second make run of the checkout says so, exits 1, leaves the first alone" $? \
	"exit $rc, said: $(tr '\n' ' ' <"$S/second.out" | cut -c1-300); gone:$gone"
DATA=$S/data2 timeout 60 scripts/run.sh </dev/null >"$S/busy.out" 2>&1
rc=$?
left=$(DATA=$S/data2 leftovers "" "" noports)
[ "$rc" -eq 1 ] && grep -q "port $PORT (PORT) is already in use" "$S/busy.out" && [ -z "$left" ] &&
	[ ! -e "$S/data2/run_dir" ]
check "make run on a taken port exits 1 with the reason, starting nothing" $? \
	"exit $rc, said: $(tr '\n' ' ' <"$S/busy.out" | cut -c1-300); left:$left"

# ---- stopped by each signal --------------------------------------------------------
stop_with "SIGINT to the process group" group:INT
n=0
for c in "tty ctrl-c Ctrl-C in its terminal" "tty hangup its terminal closed (SIGHUP)" \
	"tty group:TERM SIGTERM to its process group" \
	"pipe group:TERM SIGTERM to the process group of make run | cat" \
	"file alone:TERM SIGTERM to make run alone" "file alone:HUP SIGHUP to make run alone"; do
	set -- $c
	mode=$1 how=$2; shift 2
	n=$((n + 1))
	if start "$mode" "$S/run-$n.out"; then
		stop_with "$*" "$how"
	else
		check "make run starts again ($*)" 1 "$(tail -n 20 "$S/run-$n.out")"
	fi
done

# ---- a make run that died ------------------------------------------------------------
if start file "$S/run-killed.out"; then
	dead=$(procs); run1=$(cat "$DATA/run_dir")
	kill -KILL "$leader"; wait "$leader" 2>/dev/null; leader=
	if start file "$S/run-after.out"; then
		grep -q 'died and left its stack running' "$S/run-after.out"
		check "after kill -9, the next make run says so and starts" $? \
			"$(head -5 "$S/run-after.out" | tr '\n' ' ')"
		stop_with "SIGTERM after a takeover" group:TERM
		left=$(leftovers "$dead" "$run1")
		[ -z "$left" ]
		check "nothing is left of the killed make run either" $? "left:$left"
	else
		check "after kill -9, the next make run starts" 1 "$(tail -n 20 "$S/run-after.out")"
	fi
else
	check "make run starts again (kill -9)" 1 "$(tail -n 20 "$S/run-killed.out")"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
