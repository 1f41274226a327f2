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

# promtool checks the /metrics format (tests/unit/t_api.c). It comes with
# Debian's prometheus package, whose server would start and listen on
# :9090 once installed; only the tool is taken out of the package.
promtool_install() {
	command -v promtool >/dev/null 2>&1 && return 0
	tmp=$(mktemp -d)
	chmod 755 "$tmp"
	# apt-get download needs package lists: update them once when it fails
	if (cd "$tmp" && { $SUDO apt-get download -q prometheus >/dev/null 2>&1 ||
	     { $SUDO apt-get update -q >/dev/null && $SUDO apt-get download -q prometheus >/dev/null; }; }) &&
	   dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -x -C "$tmp" ./usr/bin/promtool &&
	   $SUDO install -m 755 "$tmp/usr/bin/promtool" /usr/local/bin/promtool; then
		echo "deps: promtool (from Debian's prometheus package) in /usr/local/bin"
	else
		echo "deps: promtool could not be had; the /metrics format check will be skipped" >&2
	fi
	rm -rf "$tmp"
}

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
	[ "$test_deps" = yes ] && promtool_install
	echo "deps: everything is installed"
	exit 0
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
[ "$test_deps" = yes ] && promtool_install
exit 0
