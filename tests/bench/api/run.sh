#!/bin/bash
# tests/bench/api/run.sh: requests per second and latency of the web admin's
# extensions list (GET /api/v1/extensions) and its search with 10,000
# extensions, idle and while SIPp registers them, inside a private network
# namespace.
#
#   tests/bench/api/run.sh        (needs root, sipp, curl, gcc)
#
# 1. imports extensions 10000-19999 (password pw<N>) with pbxctl, sets the
#    password of admin with pbxctl admin passwd, starts pbxd on
#    127.0.0.1:5060 (SIP) and 127.0.0.1:8080 (HTTP), signs in with
#    POST /api/v1/session and checks that the list answers with
#    "total":10000;
# 2. tests/bench/api/api_load.c (built into the work directory): CONNS
#    keep-alive HTTP/1.1 connections, one request at a time each, WARMUP_S
#    seconds not recorded, then SECONDS_RUN seconds in which every request's
#    latency is recorded (first byte sent to last byte read);
# 3. six phases, each printing one line:
#      list_idle: GET /api/v1/extensions (the default page: 100 by number),
#                 nothing else running;
#      list_reg:  the same while SIPp (tests/sip/scenarios/register_auth.xml)
#                 registers the 10,000 extensions in turn at REG_RATE a
#                 second, each REGISTER -> 401 -> REGISTER with digest
#                 credentials -> 200;
#      search_reg: GET /api/v1/extensions?q=SEARCH_Q, SIPp still running;
#      search_pair_reg: q=SEARCH_Q_PAIR, 2 characters (the index's terms
#                 that begin with them), SIPp still running;
#      search_char_reg: q=SEARCH_Q_CHAR, 1 character (a scan), SIPp
#                 still running;
#      search_wide_reg: q=SEARCH_Q_WIDE, which every name holds, SIPp
#                 still running;
#    with pbxd's CPU over the phase (all threads from
#    /proc/PID/task/*/schedstat; main_cpu_pct is its main thread, the SIP
#    core's loop) and what SIPp did in it (reg_per_s, reg_failed);
# 4. the p99 of each phase against the issue's target of 20 ms, as a ratio
#    and PASS or MISS.
#
# A benchmark, not a test: the exit status is 0 when it ran and the server
# answered every request well, whatever the latencies; 1 when it could not
# run or a request failed (errors=N above 0, a status other than 200 or a
# body without the expected total).
# Environment: PBXD, PBXCTL (default pbx/pbxd, pbx/pbxctl), EXTENSIONS
# (default 10000, 10..50000), CONNS (default 8, 1..32), SECONDS_RUN
# (default 20, 1..120), WARMUP_S (default 2), REG_RATE (registrations a
# second, default 200), SEARCH_Q (default 155), SEARCH_Q_PAIR (default
# 15), SEARCH_Q_CHAR (default 5), SEARCH_Q_WIDE (default bench), TARGET_MS
# (default 20), CC, KEEP=1 (keep the work directory). About 150 s.
set -u
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$ROOT" || exit 1
PBXD=$(realpath -m "${PBXD:-pbx/pbxd}")
PBXCTL=$(realpath -m "${PBXCTL:-pbx/pbxctl}")
REG_SF=$ROOT/tests/sip/scenarios/register_auth.xml
EXTENSIONS=${EXTENSIONS:-10000}
CONNS=${CONNS:-8}
SECONDS_RUN=${SECONDS_RUN:-20}
WARMUP_S=${WARMUP_S:-2}
REG_RATE=${REG_RATE:-200}
SEARCH_Q=${SEARCH_Q:-155}
SEARCH_Q_PAIR=${SEARCH_Q_PAIR:-15}
SEARCH_Q_CHAR=${SEARCH_Q_CHAR:-5}
SEARCH_Q_WIDE=${SEARCH_Q_WIDE:-bench}
TARGET_MS=${TARGET_MS:-20}
CC=${CC:-gcc}
FIRST=10000
HTTP=127.0.0.1:8080

die() { echo "bench/api: $*" >&2; exit 1; }
log() { echo "# $*" >&2; }
num() { case $2 in ''|*[!0-9]*) die "$1 must be a number";; esac; }
num EXTENSIONS "$EXTENSIONS"; num CONNS "$CONNS"; num SECONDS_RUN "$SECONDS_RUN"; num WARMUP_S "$WARMUP_S"
num REG_RATE "$REG_RATE"; num TARGET_MS "$TARGET_MS"
[ "$EXTENSIONS" -ge 10 ] && [ "$EXTENSIONS" -le 50000 ] || die "EXTENSIONS must be 10..50000"
[ "$CONNS" -ge 1 ] && [ "$CONNS" -le 32 ] || die "CONNS must be 1..32 (pbxd takes 32 connections an address)"
[ "$SECONDS_RUN" -ge 1 ] && [ "$SECONDS_RUN" -le 120 ] && [ "$WARMUP_S" -le 30 ] ||
	die "SECONDS_RUN 1..120, WARMUP_S 0..30"
[ "$REG_RATE" -ge 1 ] && [ "$REG_RATE" -le 5000 ] && [ "$TARGET_MS" -ge 1 ] || die "REG_RATE 1..5000, TARGET_MS >= 1"
for q in "$SEARCH_Q" "$SEARCH_Q_PAIR" "$SEARCH_Q_CHAR" "$SEARCH_Q_WIDE"; do
	case $q in ''|*[!0-9A-Za-z]*) die "SEARCH_Q, SEARCH_Q_PAIR, SEARCH_Q_CHAR, SEARCH_Q_WIDE: letters and digits only";; esac
done
[ "$(id -u)" = 0 ] || die "must run as root (network namespace)"
ip netns list >/dev/null 2>&1 || die "'ip netns' is not available"
[ -x "$PBXD" ] && [ -x "$PBXCTL" ] || die "build pbxd and pbxctl first ($PBXD, $PBXCTL)"
command -v sipp >/dev/null || die "sipp not installed (Debian sip-tester)"
command -v curl >/dev/null || die "curl not installed"
command -v "$CC" >/dev/null || die "no C compiler ($CC)"

NS=pbxa$$
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pbxapibench.XXXXXX") || exit 1
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -0 "$p" 2>/dev/null || continue
		kill -TERM "$p" 2>/dev/null
		for _ in $(seq 1 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	if ip netns list 2>/dev/null | grep -qw "$NS"; then
		for p in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		ip netns del "$NS"
	fi
	if [ "${KEEP:-0}" = 1 ]; then echo "# work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# stop PID SIGNAL: signal, bounded wait, SIGKILL
stop() {
	kill "-$2" "$1" 2>/dev/null
	for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

$CC -std=c17 -D_GNU_SOURCE -O2 -g -Wall -Wextra -o "$WORK/api_load" tests/bench/api/api_load.c -lpthread ||
	die "cannot build api_load"
ip netns add "$NS" && ip netns exec "$NS" ip link set lo up || die "cannot create network namespace $NS"
inns() { ip netns exec "$NS" "$@"; }
cd "$WORK" || exit 1

# ---------------------------------------------------------------- measuring
# cpu_ns PID [TID]: CPU time of all threads of PID (or of thread TID), ns
cpu_ns() {
	local t sum=0 v
	for t in /proc/"$1"/task/${2:-*}; do
		read -r v _ <"$t/schedstat" 2>/dev/null || continue
		sum=$((sum + v))
	done
	echo $sum
}
# sipp_counts: successful and failed registrations so far (SIPp's last
# statistics row, written every second)
sipp_counts() {
	[ -n "${SIPP_PID:-}" ] && [ -s reg.stat.csv ] || { echo "0 0"; return; }
	awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "SuccessfulCall(C)") s = i; if ($i == "FailedCall(C)") f = i } }
		NR > 1 { ok = $s; bad = $f } END { print ok + 0, bad + 0 }' reg.stat.csv
}

# ---------------------------------------------------------------- set-up
LAST=$((FIRST + EXTENSIONS - 1))
{
	echo "extension,name,password,vm_pin"
	for n in $(seq $FIRST $LAST); do echo "$n,Bench $n,pw$n,$n"; done
} >ext.csv
{
	echo SEQUENTIAL
	for u in $(seq $FIRST $LAST); do echo "$u;[authentication username=$u password=pw$u]"; done
} >users.csv
mkdir -p spool
t0=$(date +%s%N)
"$PBXCTL" --db pbx.db ext import ext.csv >import.log 2>&1 || { tail -3 import.log >&2; die "pbxctl ext import failed"; }
log "imported $EXTENSIONS extensions in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
ADMIN_PW=bench-$$-$RANDOM$RANDOM
printf '%s\n' "$ADMIN_PW" | "$PBXCTL" --db pbx.db admin passwd admin >/dev/null || die "pbxctl admin passwd failed"

log "starting pbxd in namespace $NS"
# ip netns exec itself, not the function: $! must be pbxd's PID
ip netns exec "$NS" "$PBXD" --db "$WORK/pbx.db" --spool "$WORK/spool" --sip-listen 127.0.0.1:5060 \
	--http-listen $HTTP --log-level warning </dev/null >/dev/null 2>>pbxd.log &
PBX_PID=$!
PIDS+=("$PBX_PID")
ready=0
for _ in $(seq 1 100); do
	kill -0 "$PBX_PID" 2>/dev/null || break
	inns curl -s -o /dev/null -m 1 -w '%{http_code}' http://$HTTP/healthz | grep -qx 200 && { ready=1; break; }
	sleep 0.1
done
[ $ready = 1 ] || { tail -20 pbxd.log >&2; die "pbxd did not become ready"; }

inns curl -s -m 5 -D signin.hdr -o signin.json -H 'Content-Type: application/json' \
	-d "{\"username\":\"admin\",\"password\":\"$ADMIN_PW\"}" http://$HTTP/api/v1/session
COOKIE=$(sed -n 's/^[Ss]et-[Cc]ookie: *\(pbx_session=[^;]*\).*/\1/p' signin.hdr | tr -d '\r' | head -1)
[ -n "$COOKIE" ] || { cat signin.hdr signin.json >&2; die "sign-in failed"; }

# the expected totals: every extension, and those whose number or name
# holds each search
# ("Bench N" holds the number too, and q matches names without case)
q_total() { seq $FIRST $LAST | sed 's/^/Bench /' | grep -ci -- "$1"; }
Q_TOTAL=$(q_total "$SEARCH_Q")
Q_PAIR_TOTAL=$(q_total "$SEARCH_Q_PAIR")
Q_CHAR_TOTAL=$(q_total "$SEARCH_Q_CHAR")
Q_WIDE_TOTAL=$(q_total "$SEARCH_Q_WIDE")
LIST_PATH=/api/v1/extensions
SEARCH_PATH="/api/v1/extensions?q=$SEARCH_Q"
SEARCH_PAIR_PATH="/api/v1/extensions?q=$SEARCH_Q_PAIR"
SEARCH_CHAR_PATH="/api/v1/extensions?q=$SEARCH_Q_CHAR"
SEARCH_WIDE_PATH="/api/v1/extensions?q=$SEARCH_Q_WIDE"
for p in "$LIST_PATH:$EXTENSIONS" "$SEARCH_PATH:$Q_TOTAL" "$SEARCH_PAIR_PATH:$Q_PAIR_TOTAL" \
	"$SEARCH_CHAR_PATH:$Q_CHAR_TOTAL" "$SEARCH_WIDE_PATH:$Q_WIDE_TOTAL"; do
	st=$(inns curl -s -m 5 -b "$COOKIE" -o check.json -w '%{http_code}' "http://$HTTP${p%:*}")
	[ "$st" = 200 ] && grep -q "\"total\":${p##*:}[,}]" check.json ||
		{ head -c 300 check.json >&2; echo >&2; die "GET ${p%:*}: status $st, expected \"total\":${p##*:}"; }
done

# ---------------------------------------------------------------- a phase
ALL_OK=1
LINES=()
# phase NAME PATH TOTAL: one load run, its line into LINES
phase() {
	local name=$1 path=$2 total=$3 t0 c0 m0 r0 f0 t1 c1 m1 r1 f1 out
	log "$name: GET $path, $CONNS connections, ${WARMUP_S}+${SECONDS_RUN} s${SIPP_PID:+, SIPp registering}"
	t0=$(date +%s%N); c0=$(cpu_ns "$PBX_PID"); m0=$(cpu_ns "$PBX_PID" "$PBX_PID")
	read -r r0 f0 < <(sipp_counts)
	out=$(inns timeout -k 5 $((WARMUP_S + SECONDS_RUN + 30)) "$WORK/api_load" 127.0.0.1 8080 "$path" "$COOKIE" \
		"$CONNS" "$SECONDS_RUN" "$WARMUP_S" "\"total\":$total")
	local rc=$?
	t1=$(date +%s%N); c1=$(cpu_ns "$PBX_PID"); m1=$(cpu_ns "$PBX_PID" "$PBX_PID")
	read -r r1 f1 < <(sipp_counts)
	[ $rc = 0 ] && [ -n "$out" ] || { ALL_OK=0; out="requests=0 errors=load_failed"; }
	case " $out" in *" errors=0 "*) ;; *) ALL_OK=0;; esac
	kill -0 "$PBX_PID" 2>/dev/null || { ALL_OK=0; out="$out pbxd=died"; }
	local all
	all=$(sed -n 's/.*all_requests=\([0-9]*\).*/\1/p' <<<"$out")
	out="$out $(awk -v t="$((t1 - t0))" -v c="$((c1 - c0))" -v m="$((m1 - m0))" -v n="${all:-0}" \
		-v r="$((r1 - r0))" -v f="$((f1 - f0))" 'BEGIN {
		s = t / 1e9
		printf "pbxd_cpu_pct=%.1f main_cpu_pct=%.1f pbxd_cpu_us_per_req=%.0f reg_per_s=%.0f reg_failed=%d",
			100 * c / t, 100 * m / t, (n ? c / 1e3 / n : 0), r / s, f }')"
	LINES+=("$name: $out")
	echo "$name: $out"
}

# ---------------------------------------------------------------- the phases
SIPP_PID=
phase list_idle "$LIST_PATH" "$EXTENSIONS"

# SIPp runs through the five registration phases (and a margin), then is
# stopped
REG_S=$(( 5 * (WARMUP_S + SECONDS_RUN) + 20 ))
log "SIPp: $REG_RATE registrations/s over $EXTENSIONS extensions in turn (at most $REG_S s)"
ip netns exec "$NS" sipp 127.0.0.1:5060 -sf "$REG_SF" -inf users.csv -key domain 127.0.0.1 -key expires 3600 \
	-i 127.0.0.1 -p 15060 -r "$REG_RATE" -m $((REG_RATE * REG_S)) -l $((REG_RATE * 4)) \
	-timeout "$REG_S" -nostdin -trace_err -trace_stat -stf reg.stat.csv -fd 1 </dev/null >reg.screen 2>&1 &
SIPP_PID=$!
PIDS+=("$SIPP_PID")
# registrations under way: SIPp's statistics show successes (bounded, 10 s)
for _ in $(seq 1 40); do
	read -r ok _ < <(sipp_counts)
	[ "${ok:-0}" -gt 0 ] && break
	kill -0 "$SIPP_PID" 2>/dev/null || break
	sleep 0.25
done
[ "${ok:-0}" -gt 0 ] || { tail -5 reg.screen >&2; die "SIPp registered nobody (see reg.screen; KEEP=1)"; }

phase list_reg "$LIST_PATH" "$EXTENSIONS"
phase search_reg "$SEARCH_PATH" "$Q_TOTAL"
phase search_pair_reg "$SEARCH_PAIR_PATH" "$Q_PAIR_TOTAL"
phase search_char_reg "$SEARCH_CHAR_PATH" "$Q_CHAR_TOTAL"
phase search_wide_reg "$SEARCH_WIDE_PATH" "$Q_WIDE_TOTAL"
kill -0 "$SIPP_PID" 2>/dev/null || log "SIPp ended before the last phase did (see reg.screen; KEEP=1)"
stop "$SIPP_PID" INT
read -r ok bad < <(sipp_counts)
log "SIPp: $ok registrations, $bad failed"
log "registered now: $(inns curl -s -m 5 http://$HTTP/metrics | awk '$1 ~ /^pbx_registrations/ {print $1 "=" $2}' | tr '\n' ' ')"
stop "$PBX_PID" TERM
grep -v '^$' pbxd.log | tail -3 | sed 's/^/# pbxd: /' >&2

# ---------------------------------------------------------------- against the target
for l in "${LINES[@]}"; do
	p99=$(sed -n 's/.* p99_us=\([0-9]*\).*/\1/p' <<<" $l")
	awk -v name="${l%%:*}" -v p="${p99:-0}" -v t="$TARGET_MS" 'BEGIN {
		printf "target %s: p99_ms=%.2f target_ms=%d ratio=%.3f %s\n", name, p / 1000, t, p / 1000 / t,
			(p > 0 && p < t * 1000 ? "PASS" : "MISS") }'
done
[ $ALL_OK = 1 ] || { echo "bench/api: the server failed requests (errors above)" >&2; exit 1; }
