#!/bin/bash
# t_torture.sh: the RFC 4475 and RFC 5118 torture messages, byte for byte, sent
# to a running pbxd; every answer is compared with tests/sip/torture_expect.tsv
# and the daemon must still answer at the end.
#
# The vectors live outside the project in ../shared/torture (relative to the
# repository root); without them the test is skipped. Most messages carry no
# rport, so replies go to the Via port (5060 when absent): the sender binds
# 127.0.0.1:5060 and pbxd listens on 5070 (we are alone in a network namespace).
# TORTURE_RECORD=1 prints the observed table in the tsv format instead of testing.
SIP_PORT=5070
. "$(dirname "$0")/lib.sh"

TORTURE=$SHARED/torture
EXPECT=$SIPDIR/torture_expect.tsv
SENDER=$TORTURE/tools/send_torture.py
if [ ! -d "$TORTURE/rfc4475" ] || [ ! -f "$SENDER" ]; then
	skip "torture vectors" "no $TORTURE"
	echo "1..$T_N"
	exit 0
fi
require_pbx
provision_range 1000 1009
if ! pbx_start; then not_ok "pbxd starts and answers /healthz"; t_done; fi
ok "pbxd starts and answers /healthz"

# send TRANSPORT FILES...: one "file<TAB>transport<TAB>observed" line per file, where
# observed = the distinct final status codes with our Call-ID (provisional ones dropped),
# comma-separated, or "none"; "+closed" when the server closed the TCP connection.
send() {
	local tr=$1; shift
	(cd "$TORTURE" && python3 "$SENDER" --host 127.0.0.1 --port "$SIP_PORT" --transport "$tr" \
		--bind 127.0.0.1:5060 --wait "${TORTURE_WAIT:-0.7}" "$@") |
	python3 -c '
import json, sys
tr = sys.argv[1]
for line in sys.stdin:
    r = json.loads(line)
    codes = sorted({int(s.split()[1]) for s in r["responses"] if len(s.split()) > 1 and s.split()[1].isdigit()})
    final = [str(c) for c in codes if c >= 200]
    obs = ",".join(final) if final else "none"
    if r.get("closed"):
        obs += "+closed"
    print("%s\t%s\t%s" % (r["file"], tr, obs))
' "$tr"
}

OBS=$WORK/observed.tsv
# UDP: insuf first (it has no Call-ID, so any response would count as its own; nothing of an
# earlier message may be pending), then the others in name order
(
	cd "$TORTURE" || exit 1
	send udp rfc4475/insuf.dat
	send udp $(ls rfc4475/*.dat | grep -v '^rfc4475/insuf.dat$')
	send udp rfc5118/wire/*.sip
) >"$OBS"
check "pbxd still running after the UDP torture messages" pbx_alive
check "OPTIONS answered after the UDP torture messages" options_ok

# TCP, on a freshly started pbxd: the same messages were just sent over UDP with the same
# branches, and their server transactions would otherwise absorb the TCP copies as retransmissions
pbx_stop
rc=$?
is "pbxd exits 0 on SIGTERM after the UDP torture messages" "$rc" 0
if pbx_start; then
	ok "pbxd starts again for the TCP torture messages"
else
	not_ok "pbxd starts again for the TCP torture messages"
	t_done
fi
(
	cd "$TORTURE" || exit 1
	send tcp rfc4475/ncl.dat rfc4475/mcl01.dat rfc4475/clerr.dat rfc4475/wsinv.dat rfc4475/mpart01.dat rfc4475/dblreq.dat
) >>"$OBS"

if [ "${TORTURE_RECORD:-0}" = 1 ]; then
	cat "$OBS" >&2
fi

n_sent=$(wc -l <"$OBS")
check "all 67 torture sends produced a result line (got $n_sent)" [ "$n_sent" = 67 ]

# compare: expected may list alternatives separated by "|"
while IFS=$'\t' read -r file tr got; do
	want=$(awk -F'\t' -v f="$file" -v t="$tr" '$1 == f && $2 == t {print $3; exit}' "$EXPECT")
	if [ -z "$want" ]; then
		not_ok "torture $file ($tr): got $got, no expectation in torture_expect.tsv"
		continue
	fi
	matched=0
	IFS='|' read -r -a alts <<<"$want"
	for w in "${alts[@]}"; do [ "$w" = "$got" ] && matched=1; done
	if [ $matched = 1 ]; then
		ok "torture $file ($tr): $got"
	else
		not_ok "torture $file ($tr): got $got, want $want"
	fi
done <"$OBS"

# every expectation was exercised
missing=$(awk -F'\t' '!/^#/ && NF >= 3 && $1 != "file" {print $1 "\t" $2}' "$EXPECT" | while IFS=$'\t' read -r f t; do
	grep -qP "^\Q$f\E\t$t\t" "$OBS" || echo "$f/$t"; done)
check "every row of torture_expect.tsv was sent${missing:+ (missing: $missing)}" [ -z "$missing" ]

check "pbxd still running after the TCP torture messages" pbx_alive
check "OPTIONS answered after the TCP torture messages" options_ok
check "OPTIONS over TCP answered after the TCP torture messages" options_ok --transport tcp

t_done
