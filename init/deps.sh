#!/bin/sh
# deps.sh: install what pbxd needs to build, run and be tested, from Debian 12.
#   init/deps.sh          build and run dependencies
#   init/deps.sh --test   also everything the test suite and benchmarks use
set -e
test_deps=no
[ "${1:-}" = "--test" ] && test_deps=yes

build="build-essential pkg-config libmicrohttpd-dev libsqlite3-dev libopus-dev libsrtp2-dev
libjansson-dev libgnutls28-dev nettle-dev libcrypt-dev libopusfile-dev libopusenc-dev
libspeexdsp-dev flite sox xxd"
tests="libcmocka-dev perl clang libclang-rt-14-dev valgrind sqlite3 curl sip-tester baresip-core
iproute2 python3 procps kamailio kamailio-sqlite-modules chromium nodejs"
# npm for the browser test's playwright-core: Debian's package only when no npm came
# with nodejs (NodeSource's nodejs carries its own and conflicts with Debian's npm)
command -v npm >/dev/null 2>&1 || tests="$tests npm"

pkgs=$build
[ "$test_deps" = yes ] && pkgs="$pkgs $tests"

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "deps: everything is installed"
	exit 0
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
