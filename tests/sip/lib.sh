# lib.sh: shared helpers for the black-box SIP tests (sourced by tests/sip/t_*.sh).
#
# Each t_*.sh runs inside the network namespace made by tests/sip/run.sh, so
# any port is free. It sources this file, starts its own pbxd on its own var
# directory (under a mktemp directory) and prints TAP: "ok N - name" /
# "not ok N - name", then the plan "1..N" from t_done. Every process a test
# starts is recorded and killed by PID on exit; every wait has a deadline.
#
# The daemon's stderr goes to $WORK/pbxd.log; t_done fails the test if a
# sanitizer wrote into it (CI runs the same tests on an ASan build through
# PBXD=/path/to/asan/pbxd PBXCTL=...).

set -u
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SIPDIR=$ROOT/tests/sip
cd "$ROOT" || exit 1
PBXD=${PBXD:-pbx/pbxd}
PBXCTL=${PBXCTL:-pbx/pbxctl}
SHARED=${SHARED:-$ROOT/../shared}
SEND_SIP=$SIPDIR/send_sip.py

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pbxtest.XXXXXX") || exit 1
VAR=$WORK/var
DB=$VAR/pbx.db
SPOOL=$VAR/spool
PBX_LOG=$WORK/pbxd.log
SIP_IP=${SIP_IP:-127.0.0.1}
SIP_PORT=${SIP_PORT:-5060}
HTTP_PORT=${HTTP_PORT:-8080}
DOMAIN=${DOMAIN:-127.0.0.1}
PBX_PID=""
PBX_ARGS=()         # extra pbxd arguments (e.g. a second --sip-listen)
BG_PIDS=()          # other processes started by the test
T_N=0
T_FAIL=0
mkdir -p "$VAR" "$SPOOL"

# ------------------------------------------------------------------ TAP

ok() { T_N=$((T_N + 1)); echo "ok $T_N - $*"; }
not_ok() { T_N=$((T_N + 1)); T_FAIL=$((T_FAIL + 1)); echo "not ok $T_N - $*"; }
diag() { local l; while IFS= read -r l; do echo "# $l"; done <<<"$*"; }
skip() { T_N=$((T_N + 1)); echo "ok $T_N - $1 # SKIP ${2:-}"; }

# check NAME CMD...: one TAP line, ok when CMD exits 0
check() {
	local name=$1; shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}

# is NAME GOT WANT: string equality, with a diagnostic on mismatch
is() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1"; diag "got:  '$2'" "want: '$3'"; fi
}

# now_ms: wall clock in milliseconds
now_ms() { date +%s%3N; }

# wait_for SECONDS CMD...: run CMD every 0.1 s until it succeeds or the time is up
wait_for() {
	local limit=$1; shift
	local end=$(( $(now_ms) + limit * 1000 ))
	while :; do
		"$@" && return 0
		[ "$(now_ms)" -ge "$end" ] && return 1
		sleep 0.1
	done
}

# ------------------------------------------------------------------ processes

# stop_pid PID [SECONDS]: SIGTERM, wait with a bound, then SIGKILL.
# Returns the exit status of the process when it is our child.
stop_pid() {
	local p=$1 limit=${2:-10} rc=0
	[ -n "$p" ] || return 0
	if kill -0 "$p" 2>/dev/null; then
		kill -TERM "$p" 2>/dev/null
		if ! wait_for "$limit" eval "! kill -0 $p 2>/dev/null"; then
			kill -KILL "$p" 2>/dev/null
		fi
	fi
	wait "$p" 2>/dev/null
	rc=$?
	return $rc
}

cleanup() {
	local p
	[ -n "$PBX_PID" ] && stop_pid "$PBX_PID" 5
	for p in "${BG_PIDS[@]}"; do stop_pid "$p" 3; done
	if [ "${KEEP:-0}" = 1 ] || { [ "$T_FAIL" -gt 0 ] && [ "${KEEP_FAILED:-0}" = 1 ]; }; then
		echo "# work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ pbxd

ctl() { "$PBXCTL" --db "$DB" "$@"; }

healthz() { curl -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/healthz" 2>/dev/null | grep -qx 200; }

# pbx_start [ARGS...]: start pbxd (stderr appended to $PBX_LOG), wait up to 10 s for /healthz.
pbx_start() {
	echo "=== pbxd start $(date +%T)" >>"$PBX_LOG"
	"$PBXD" --db "$DB" --spool "$SPOOL" --sip-listen "$SIP_IP:$SIP_PORT" \
		--http-listen "127.0.0.1:$HTTP_PORT" --rtp-ports 20000-20999 \
		--log-level "${PBX_LOG_LEVEL:-info}" "${PBX_ARGS[@]}" "$@" </dev/null >>"$PBX_LOG" 2>&1 &
	PBX_PID=$!
	if wait_for 10 eval "healthz || ! kill -0 $PBX_PID 2>/dev/null" && kill -0 "$PBX_PID" 2>/dev/null; then
		return 0
	fi
	diag "pbxd did not become ready; log tail:" "$(tail -20 "$PBX_LOG")"
	stop_pid "$PBX_PID" 3
	PBX_PID=""
	return 1
}

# pbx_stop: SIGTERM; returns pbxd's exit status (0 for a clean exit)
pbx_stop() {
	local rc
	stop_pid "$PBX_PID" 10
	rc=$?
	PBX_PID=""
	return $rc
}

pbx_alive() { [ -n "$PBX_PID" ] && kill -0 "$PBX_PID" 2>/dev/null; }

# require_pbx: the binaries exist, or the whole file is a single failure
require_pbx() {
	if [ ! -x "$PBXD" ] || [ ! -x "$PBXCTL" ]; then
		not_ok "pbxd and pbxctl are built ($PBXD, $PBXCTL)"
		echo "1..$T_N"
		exit 1
	fi
}

# t_done: stop pbxd (clean exit expected), check its log for sanitizer reports, print the plan
t_done() {
	local rc
	if [ -n "$PBX_PID" ]; then
		pbx_stop
		rc=$?
		if [ $rc = 0 ]; then ok "pbxd exits 0 on SIGTERM"; else not_ok "pbxd exits 0 on SIGTERM (status $rc)"; fi
	fi
	if grep -qE 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' "$PBX_LOG" 2>/dev/null; then
		not_ok "no sanitizer report in the pbxd log"
		diag "$(grep -E -A15 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' "$PBX_LOG" | head -40)"
	else
		ok "no sanitizer report in the pbxd log"
	fi
	if [ "$T_FAIL" -gt 0 ]; then
		diag "pbxd log tail ($PBX_LOG):" "$(tail -30 "$PBX_LOG" 2>/dev/null)"
	fi
	echo "1..$T_N"
	[ "$T_FAIL" = 0 ]
	exit $?
}

# provision_range FIRST LAST: import extensions FIRST..LAST with password pw<N>.
# Their mailboxes take no calls (vm_on empty), so unanswered calls end with
# 480/486 as the call tests expect; PROVISION_VM=1 keeps the default (every
# unanswered call goes to voicemail), as t_voicemail.sh wants.
provision_range() {
	local csv=$WORK/ext_$1_$2.csv n rc
	{
		echo "extension,name,password,vm_pin"
		for n in $(seq "$1" "$2"); do echo "$n,Ext $n,pw$n,$((n % 10000))"; done
	} >"$csv"
	ctl ext import "$csv" >/dev/null
	rc=$?
	[ "${PROVISION_VM:-0}" = 1 ] && return $rc
	vm_off "$1" "$2" || return 1
	return $rc
}

# vm_off FIRST [LAST]: the mailboxes FIRST..LAST take no calls (one transaction)
vm_off() {
	sqlite3 -cmd '.timeout 3000' "$DB" \
		"UPDATE mailboxes SET vm_on = '' WHERE CAST(number AS INTEGER) BETWEEN ${1} AND ${2:-$1};"
}

# ------------------------------------------------------------------ SIP

# sip [send_sip.py options]: the message template comes from stdin
sip() { python3 "$SEND_SIP" --host "$SIP_IP" --port "$SIP_PORT" "$@"; }

# tpl_register USER [CONTACT|-] [EXPIRES|-] [EXTRA HEADER LINES]: a REGISTER template.
# "-" (or empty) leaves the header out; CONTACT may hold several values (a, b).
tpl_register() {
	local user=$1 contact=${2:--} expires=${3:--} extra=${4:-}
	printf 'REGISTER sip:%s SIP/2.0\n' "$DOMAIN"
	printf 'Via: SIP/2.0/{{TRANSPORT}} {{LOCAL}};branch={{BRANCH}};rport\n'
	printf 'Max-Forwards: 70\n'
	printf 'From: <sip:%s@%s>;tag={{TAG}}\n' "$user" "$DOMAIN"
	printf 'To: <sip:%s@%s>\n' "$user" "$DOMAIN"
	printf 'Call-ID: {{CALLID}}\n'
	printf 'CSeq: {{CSEQ}} REGISTER\n'
	[ "$contact" != - ] && printf 'Contact: %s\n' "$contact"
	[ "$expires" != - ] && printf 'Expires: %s\n' "$expires"
	[ -n "$extra" ] && printf '%s\n' "$extra"
	printf 'User-Agent: pbx-tests\nContent-Length: 0\n\n'
}

# tpl_request METHOD RURI [EXTRA HEADER LINES]: a request without body
tpl_request() {
	local m=$1 ruri=$2 extra=${3:-}
	printf '%s %s SIP/2.0\n' "$m" "$ruri"
	printf 'Via: SIP/2.0/{{TRANSPORT}} {{LOCAL}};branch={{BRANCH}};rport\n'
	printf 'Max-Forwards: 70\n'
	printf 'From: <sip:tester@%s>;tag={{TAG}}\n' "$DOMAIN"
	printf 'To: <%s>\n' "$ruri"
	printf 'Call-ID: {{CALLID}}\n'
	printf 'CSeq: {{CSEQ}} %s\n' "$m"
	[ -n "$extra" ] && printf '%s\n' "$extra"
	printf 'Content-Length: 0\n\n'
}

# register USER PASS CONTACT EXPIRES [send_sip options]: full replies on stdout
register() {
	local u=$1 p=$2 c=$3 e=$4; shift 4
	tpl_register "$u" "$c" "$e" | sip --auth "$u:$p" --show full "$@"
}

# last_reply: the last message of a --show full output (stdin)
last_reply() { awk '/^--$/ {if (cur != "") last = cur; cur = ""; next} {cur = cur $0 "\n"} END {printf "%s", last}'; }

# status_of: the status code of the last reply of a --show full output (stdin)
status_of() { grep -E '^SIP/2\.0 [0-9]{3}' | tail -1 | cut -d' ' -f2; }

# header VALUE lines of NAME (case-insensitive; compact form given as 2nd name) from one message (stdin)
header() {
	local n=$1 c=${2:-}
	awk -v n="$n" -v c="$c" 'BEGIN{n=tolower(n); c=tolower(c)} /^$/ {exit}
		{ i = index($0, ":"); if (i == 0) next; h = tolower($0); sub(/:.*/, "", h); gsub(/[ \t]/, "", h)
		  if (h == n || (c != "" && h == c)) { v = substr($0, i + 1); sub(/^[ \t]+/, "", v); print v } }'
}

# contacts: the Contact values of a message (stdin), one per line (values split at top-level commas)
contacts() {
	header contact m | awk '{ s = $0; q = 0; a = 0; cur = ""
		for (i = 1; i <= length(s); i++) { ch = substr(s, i, 1)
			if (ch == "\"") q = !q; else if (ch == "<" && !q) a = 1; else if (ch == ">" && !q) a = 0
			if (ch == "," && !q && !a) { sub(/^[ \t]+/, "", cur); print cur; cur = ""; continue }
			cur = cur ch }
		sub(/^[ \t]+/, "", cur); if (cur != "") print cur }'
}

# reg_lines AOR-USER: `pbxctl reg list` lines of that extension
reg_lines() { ctl reg list 2>/dev/null | awk -F'\t' -v u="$1" '$1 ~ ("(^|:)" u "@") || $1 == u'; }
reg_count() { reg_lines "$1" | wc -l; }
# reg_wait USER REGEX N: wait (3 s bound) until reg list shows exactly N bindings of USER matching REGEX
# (the daemon writes the location table from its jobs thread, a moment after the 200)
reg_wait() { wait_for "${REG_WAIT_S:-3}" reg_is "$@"; }
reg_is() { [ "$(reg_lines "$1" | grep -cE -- "$2")" = "$3" ]; }

# options_ok [send_sip options]: an OPTIONS to the PBX is answered 200
options_ok() {
	local out
	out=$(tpl_request OPTIONS "sip:$DOMAIN" | sip --wait 2 "$@") || return 1
	echo "$out" | grep -q '^SIP/2.0 200'
}

# settings_barrier: prove that the running pbxd has applied every earlier `pbxctl setting set`:
# flip reg_min_expires between 60 and 61 and wait until a REGISTER (1000 credentials, from
# source BARRIER_SRC) with Expires: 60 shows the new value (423 vs 200).
BARRIER_SRC=${BARRIER_SRC:-127.0.0.9}
BARRIER_MIN=60
settings_barrier() {
	local want
	if [ "$BARRIER_MIN" = 60 ]; then BARRIER_MIN=61; want=423; else BARRIER_MIN=60; want=200; fi
	ctl setting set reg_min_expires "$BARRIER_MIN" || return 1
	wait_for 5 barrier_probe "$want"
}
barrier_probe() {
	local got
	got=$(register 1000 pw1000 '<sip:barrier@127.0.0.1:5999>' 60 --bind "$BARRIER_SRC:0" --wait 1 | status_of)
	[ "$got" = "$1" ]
}

# ------------------------------------------------------------------ SIPp

# run_sipp NAME SECONDS ARGS...: run sipp in the background with a hard bound; returns its exit status.
# The caller passes -timeout/-recv_timeout; SECONDS is an outer bound in case sipp hangs.
run_sipp() {
	local name=$1 limit=$2 p rc; shift 2
	sipp "$@" -nostdin >"$WORK/$name.screen" 2>&1 &
	p=$!
	BG_PIDS+=("$p")
	if ! wait_for "$limit" eval "! kill -0 $p 2>/dev/null"; then
		diag "sipp $name still running after ${limit}s: killing it"
		kill -INT "$p" 2>/dev/null; sleep 1; kill -KILL "$p" 2>/dev/null
	fi
	wait "$p"
	rc=$?
	return $rc
}

# sipp_stat FILE FIELD: a column of the last line of a -trace_stat CSV (13 created, 16 successful, 18 failed)
sipp_stat() { tail -1 "$1" 2>/dev/null | awk -F';' -v f="$2" '{print $f + 0}'; }
