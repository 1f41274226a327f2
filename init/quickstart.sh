#!/bin/sh
# quickstart.sh: install the dependencies, build, and start pbxd in the
# foreground on the embedded default (./var/pbx.db, ./var/spool, SIP on 5060,
# HTTP on 8080). On the first start it prints the demo extensions with their
# passwords, the SIP address to point a phone at and the admin URL.
# Extra arguments go to pbxd (for example --sip-listen 0.0.0.0:5070).
set -e
cd "$(dirname "$0")/.."
init/deps.sh
./configure
make -j"$(nproc)"
exec pbx/pbxd "$@"
