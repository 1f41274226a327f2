#!/bin/bash
# run.sh: run the black-box SIP tests (tests/sip/t_*.sh) against pbx/pbxd.
#
#   tests/sip/run.sh [t_register.sh ...]      (default: every t_*.sh)
#
# Needs root: makes a private network namespace pbxt<PID> with only loopback
# (127.0.0.1 and ::1) so that no port collides with other processes on the box
# and no packet leaves it, runs each test file inside it, and counts the TAP
# lines. Prints "sip: N passed, N failed" and exits non-zero on any failure.
# Environment: PBXD, PBXCTL (binaries to test, e.g. an ASan build),
# T_TIMEOUT (seconds one test file may take, default 600), KEEP=1 (keep work dirs).
set -u
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1

if [ "$(id -u)" != 0 ]; then
	echo "tests/sip/run.sh: must run as root (it creates a network namespace); CI runs it as root" >&2
	echo "sip: 0 passed, 1 failed"
	exit 1
fi
if ! ip netns list >/dev/null 2>&1; then
	echo "tests/sip/run.sh: 'ip netns' is not available (iproute2 with network namespace support needed)" >&2
	echo "sip: 0 passed, 1 failed"
	exit 1
fi

NS=pbxt$$
TEST_PID=""
cleanup() {
	local p
	if [ -n "$TEST_PID" ] && kill -0 "$TEST_PID" 2>/dev/null; then
		kill -TERM "$TEST_PID" 2>/dev/null
		for _ in $(seq 1 50); do kill -0 "$TEST_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$TEST_PID" 2>/dev/null
	fi
	# anything still running inside our namespace was started by us
	if ip netns list 2>/dev/null | grep -qw "$NS"; then
		for p in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		ip netns del "$NS" 2>/dev/null
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! ip netns add "$NS" || ! ip netns exec "$NS" ip link set lo up; then
	echo "tests/sip/run.sh: could not create network namespace $NS" >&2
	echo "sip: 0 passed, 1 failed"
	exit 1
fi
# ::1 needs IPv6 enabled inside the namespace
ip netns exec "$NS" sysctl -qw net.ipv6.conf.lo.disable_ipv6=0 2>/dev/null

if [ $# -gt 0 ]; then
	TESTS=()
	for t in "$@"; do TESTS+=("tests/sip/$(basename "$t")"); done
else
	TESTS=(tests/sip/t_*.sh)
fi

PASS=0
FAIL=0
for t in "${TESTS[@]}"; do
	echo "# --- $t"
	out=$(mktemp)
	ip netns exec "$NS" timeout -k 10 "${T_TIMEOUT:-600}" bash "$t" >"$out" 2>&1 &
	TEST_PID=$!
	# stream the output while it runs
	tail -f --pid="$TEST_PID" "$out" 2>/dev/null
	wait "$TEST_PID"
	rc=$?
	TEST_PID=""
	p=$(grep -cE '^ok [0-9]+' "$out")
	f=$(grep -cE '^not ok [0-9]+' "$out")
	plan=$(grep -E '^1\.\.[0-9]+$' "$out" | tail -1 | cut -d. -f3)
	PASS=$((PASS + p))
	FAIL=$((FAIL + f))
	if [ -z "$plan" ] || [ "$plan" != $((p + f)) ]; then
		echo "not ok - $t: plan '${plan:-none}' does not match $((p + f)) results (exit $rc)"
		FAIL=$((FAIL + 1))
	elif [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "not ok - $t exited with status $rc"
		FAIL=$((FAIL + 1))
	fi
	skipped=$(grep -cE '^ok [0-9]+.*# SKIP' "$out")
	[ "$skipped" -gt 0 ] && echo "# $t: $skipped skipped"
	rm -f "$out"
done

echo "sip: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
