#!/bin/bash
# run-all.sh: build and run the whole test suite, as CI does.
#
#   tests/run-all.sh            (as root: the protocol tests make a network namespace)
#
# 1. installs the build and test dependencies (init/deps.sh --test)
# 2. configure + make with -Werror, unit tests (cmocka, leak-checked) under prove
# 3. protocol tests against the real daemon (tests/sip/run.sh)
# 4. the browser test of the web admin (tests/browser/ui.mjs: Debian chromium
#    driven by playwright-core, installed by npm ci from its lock file)
# 5. libFuzzer targets, each for FUZZ_SECONDS (default 60)
# 6. an AddressSanitizer/UBSan build in build-asan/ (a copy of the tree):
#    unit, protocol and browser tests again
# Ends with one line "N passed, N failed"; exits non-zero when anything failed.
set -u
export LC_ALL=C
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
JOBS=$(nproc)
PASS=0
FAIL=0
FAILED_NAMES=()

step() { echo; echo "=== $* ==="; }
count_tap() { # FILE NAME: add ok / not ok lines of a TAP log to the totals
	local ok nok
	ok=$(grep -cE '^ok ' "$1")
	nok=$(grep -cE '^not ok ' "$1")
	PASS=$((PASS + ok))
	FAIL=$((FAIL + nok))
	[ "$nok" -gt 0 ] && FAILED_NAMES+=("$2: $(grep -E '^not ok ' "$1" | head -5 | tr '\n' ';')")
	return 0
}
one() { # NAME RC: a step that counts as one test
	if [ "$2" = 0 ]; then PASS=$((PASS + 1)); else FAIL=$((FAIL + 1)); FAILED_NAMES+=("$1"); fi
}

unit_tests() { # DIR LABEL
	local d=$1 label=$2 t log rc
	for t in "$d"/tests/unit/t_*; do
		case $t in *.c|*.h) continue ;; esac
		[ -x "$t" ] || continue
		log=$(mktemp)
		( cd "$d" && CMOCKA_MESSAGE_OUTPUT=TAP GLIBC_TUNABLES=glibc.malloc.tcache_count=0:glibc.malloc.arena_max=1 \
			timeout 600 "$t" ) >"$log" 2>&1
		rc=$?
		cat "$log"
		count_tap "$log" "$label $(basename "$t")"
		# a crash or leak report without a "not ok" line still fails
		if [ $rc != 0 ] && ! grep -qE '^not ok ' "$log"; then one "$label $(basename "$t") exit $rc" 1; fi
		rm -f "$log"
	done
}

sip_tests() { # LABEL [env...]
	local label=$1 log
	shift
	log=$(mktemp)
	env "$@" tests/sip/run.sh 2>&1 | tee "$log"
	local p f
	p=$(sed -n 's/^sip: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$log" | tail -1)
	f=$(sed -n 's/^sip: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$log" | tail -1)
	PASS=$((PASS + ${p:-0}))
	FAIL=$((FAIL + ${f:-1}))
	[ "${f:-1}" != 0 ] && FAILED_NAMES+=("$label: $(grep -E '^not ok ' "$log" | head -8 | tr '\n' ';')")
	rm -f "$log"
}

# browser_tests LABEL PBXD PBXCTL: the web admin in chromium, inside a network
# namespace with only loopback when we may make one (so no port collides),
# bounded in time. Missing chromium, node or npm is a failure, not a skip.
browser_tests() {
	local label=$1 pbxd=$2 pbxctl=$3 log rc ns="" t
	for t in chromium node npm; do
		if ! command -v "$t" >/dev/null 2>&1; then
			echo "browser: $t is not installed (init/deps.sh --test installs it)"
			one "$label: $t installed" 1
			return
		fi
	done
	# The version pinned by package-lock.json, from the npm registry only.
	if ! (cd tests/browser && timeout 300 npm ci --no-audit --no-fund --loglevel=error); then
		one "$label: npm ci of playwright-core" 1
		return
	fi
	if [ "$(id -u)" = 0 ] && ip netns list >/dev/null 2>&1; then
		ns=pbxb$$
		if ip netns add "$ns" && ip netns exec "$ns" ip link set lo up; then
			:
		else
			ip netns del "$ns" 2>/dev/null
			ns=""
		fi
	fi
	log=$(mktemp)
	if [ -n "$ns" ]; then
		ip netns exec "$ns" timeout -k 10 600 env PBXD="$pbxd" PBXCTL="$pbxctl" node tests/browser/ui.mjs >"$log" 2>&1
		rc=$?
		for t in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$t" 2>/dev/null; done
		ip netns del "$ns"
	else
		timeout -k 10 600 env PBXD="$pbxd" PBXCTL="$pbxctl" node tests/browser/ui.mjs >"$log" 2>&1
		rc=$?
	fi
	cat "$log"
	count_tap "$log" "$label"
	# a crash, a time-out or a missing plan without a "not ok" line still fails
	if [ $rc != 0 ] && ! grep -qE '^not ok ' "$log"; then one "$label exit $rc" 1; fi
	if [ $rc = 0 ] && ! grep -qE '^1\.\.[0-9]+$' "$log"; then one "$label: no plan" 1; fi
	rm -f "$log"
}

step "dependencies"
init/deps.sh --test || { echo "dependency installation failed"; echo "0 passed, 1 failed"; exit 1; }

step "build (gcc, -Werror)"
if ./configure && make -j"$JOBS" all unit; then one build 0; else one build 1; echo "0 passed, 1 failed"; exit 1; fi

step "make install into a staging directory"
STAGE=$(mktemp -d)
if make install DESTDIR="$STAGE" PREFIX=/usr >/dev/null &&
	[ -x "$STAGE/usr/sbin/pbxd" ] && [ -x "$STAGE/usr/bin/pbxctl" ] &&
	grep -q '^ExecStart=/usr/sbin/pbxd ' "$STAGE/usr/lib/systemd/system/pbxd.service" &&
	! grep -q '[@]PREFIX[@]' "$STAGE/usr/lib/systemd/system/pbxd.service" &&
	"$STAGE/usr/sbin/pbxd" --help >/dev/null; then
	echo "install: ok"; one install 0
else
	echo "install: FAILED"; one install 1
fi
rm -rf "$STAGE"

step "unit tests"
unit_tests "$ROOT" unit

step "protocol tests"
sip_tests sip

step "browser tests (web admin in chromium)"
browser_tests browser "$ROOT/pbx/pbxd" "$ROOT/pbx/pbxctl"

step "fuzzing (${FUZZ_SECONDS}s per target)"
if make -j"$JOBS" fuzz; then
	for f in tests/fuzz/fuzz_*; do
		case $f in *.c) continue ;; esac
		[ -x "$f" ] || continue
		n=$(basename "$f")
		mkdir -p build/corpus/"$n"
		if "$f" -max_total_time="$FUZZ_SECONDS" -max_len=4096 -timeout=10 build/corpus/"$n" tests/fuzz/seeds/"$n" \
			>build/fuzz-"$n".log 2>&1; then
			echo "fuzz $n: $(grep -E '^Done|^#[0-9]+.*DONE' build/fuzz-"$n".log | tail -1)"
			one "fuzz $n" 0
		else
			tail -40 build/fuzz-"$n".log
			one "fuzz $n" 1
		fi
	done
else
	one "fuzz build" 1
fi

step "AddressSanitizer + UBSan build"
ASAN_DIR=$ROOT/build-asan
rm -rf "$ASAN_DIR"
mkdir -p "$ASAN_DIR"
tar cf - --exclude=./build --exclude=./build-asan --exclude=./.git --exclude=./var . | tar xf - -C "$ASAN_DIR"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
if (cd "$ASAN_DIR" && ./configure --enable-asan >/dev/null && make -j"$JOBS" all unit >/dev/null); then
	one "asan build" 0
	unit_tests "$ASAN_DIR" asan-unit
	sip_tests asan-sip PBXD="$ASAN_DIR/pbx/pbxd" PBXCTL="$ASAN_DIR/pbx/pbxctl"
	browser_tests asan-browser "$ASAN_DIR/pbx/pbxd" "$ASAN_DIR/pbx/pbxctl"
else
	one "asan build" 1
fi

echo
if [ ${#FAILED_NAMES[@]} -gt 0 ]; then
	echo "failures:"
	printf '  %s\n' "${FAILED_NAMES[@]}"
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
