#!/bin/bash
# t_net_settings.sh: the settings sip_port, rtp_port_min/max and codec_order
# changed through the web admin's API apply to the running pbxd, with real
# softphones (baresip, tests/sip/phone.sh), without a restart and without
# dropping the call in progress.
#
#   GET /api/v1/settings lists what pbxd uses: its --sip-listen port, its
#     --rtp-ports range, codec order opus,PCMU,PCMA.
#   Refused with 400 naming the field: sip_port 0 and 70000, rtp_port_min
#     above rtp_port_max, codec_order G729 and PCMU,PCMU. A port another
#     program holds: 409 on sip_port, nothing stored, pbxd still on its port.
#   A (1001) calls B (1002). During the call sip_port and the RTP range
#     change: pbxd answers OPTIONS on the new port at once and still on the
#     old one; B goes on hearing A's tone after both changes; A hangs up and
#     B's call is closed by pbxd (in-dialog requests still travel through the
#     old port); then the old port closes.
#   C (1003) and D (1004) register to the new port and talk; pbxd's media
#     sockets for that call are in the new range.
#   codec_order PCMA,PCMU: E calls F (both offering PCMU,PCMA): both legs
#     PCMA (the live calls list). codec_order PCMU: both PCMU. codec_order
#     PCMA: C, which offers PCMU only, is refused with 488 and D never rings.
#   pbxctl: `setting set sip_port ""` goes back to the --sip-listen port.
. "$(dirname "$0")/lib.sh"
. "$SIPDIR/phone.sh"

for tool in baresip sox python3 curl ss; do
	if ! command -v "$tool" >/dev/null; then
		skip "network settings applied live" "$tool not installed (Debian baresip-core, sox, curl, iproute2)"
		echo "1..$T_N"
		exit 0
	fi
done
require_pbx

ADMIN_PW="network settings test password"
provision_range 1000 1009
ctl setting set auth_algorithms MD5 >/dev/null
check "pbxctl: administrator password set" eval "printf '%s\n' '$ADMIN_PW' | ctl admin passwd admin >/dev/null"
if ! pbx_start; then not_ok "pbxd starts and answers /healthz"; t_done; fi
ok "pbxd starts and answers /healthz"
. "$SIPDIR/web.sh"
check "sign in to the web admin" signin

NEW_PORT=$((SIP_PORT + 10))
BUSY_PORT=$((SIP_PORT + 20))

# setting KEY: its value in GET /api/v1/settings
setting() { api GET /api/v1/settings | body_of_resp | jget "j['$1']"; }
# patch JSON: PATCH /api/v1/settings; prints "CODE FIELD"
patch() {
	local r
	r=$(api PATCH /api/v1/settings "$1")
	echo "$(code <<<"$r") $(body_of_resp <<<"$r" | jget 'j.get("field", "")')"
}
# listening PORT: pbxd has a UDP socket bound to PORT
listening() { ss -H -uln "sport = :$1" 2>/dev/null | grep -q .; }
# pbx_udp_ports: the local UDP ports pbxd has open, one a line
pbx_udp_ports() { ss -H -uanp 2>/dev/null | awk -v p="pid=$PBX_PID," 'index($0, p) { n = split($4, a, ":"); print a[n] }'; }
in_range_count() { pbx_udp_ports | awk -v lo="$1" -v hi="$2" '$1 >= lo && $1 <= hi' | wc -l; }
# calls: "CALLER>CALLEE:CODEC_A:CODEC_B" of each live call
calls() { api GET /api/v1/calls | body_of_resp | jget "'\n'.join(c['caller'] + '>' + c['callee'] + ':' + c['a']['codec'] + ':' + c['b']['codec'] for c in j['items'])"; }
rec_pos() {
	local f
	f=$(phone_recording "$1" 2>/dev/null) || { echo 0; return 1; }
	wav_seconds "$f" 2>/dev/null || echo 0
}
plus() { awk -v a="$1" -v b="$2" 'BEGIN{print a + b}'; }
# hears_now LISTENER HZ: LISTENER records 3 s more from now, and HZ is in them
hears_now() {
	local from
	from=$(plus "$(rec_pos "$1")" 0.3)
	phone_wait_audio "$1" "$(plus "$from" 3)" "$(plus "$from" 10)" || return 1
	assert_hears "$1" "$2" "$from" 3
}

# ------------------------------------------------------------------ what pbxd uses

is "GET settings: sip_port is pbxd's --sip-listen port" "$(setting sip_port)" "$SIP_PORT"
is "GET settings: rtp_port_min as started" "$(setting rtp_port_min)" 20000
is "GET settings: rtp_port_max as started" "$(setting rtp_port_max)" 20999
is "GET settings: codec_order by default" "$(setting codec_order)" "opus,PCMU,PCMA"

# ------------------------------------------------------------------ refused

is "sip_port 0: 400 on sip_port" "$(patch '{"sip_port":"0"}')" "400 sip_port"
is "sip_port 70000: 400 on sip_port" "$(patch '{"sip_port":70000}')" "400 sip_port"
is "rtp_port_min above rtp_port_max: 400 on rtp_port_min" "$(patch '{"rtp_port_min":"30000"}')" "400 rtp_port_min"
is "rtp_port_min 30000 with rtp_port_max 29000: 400 on rtp_port_max" \
	"$(patch '{"rtp_port_min":"30000","rtp_port_max":"29000"}')" "400 rtp_port_max"
is "codec_order G729: 400 on codec_order" "$(patch '{"codec_order":"G729"}')" "400 codec_order"
is "codec_order PCMU,PCMU: 400 on codec_order" "$(patch '{"codec_order":"PCMU,PCMU"}')" "400 codec_order"
R=$(http PATCH /api/v1/settings '{"sip_port":"5999"}' -b "$JAR")
is "sip_port without the CSRF token: 403" "$(code <<<"$R")" 403

python3 -c '
import socket, sys, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((sys.argv[1], int(sys.argv[2])))
print("bound", flush=True); time.sleep(120)' "$SIP_IP" "$BUSY_PORT" >"$WORK/busy.out" 2>&1 &
BUSY_PID=$!
check "another program holds UDP port $BUSY_PORT" wait_for 5 grep -q bound "$WORK/busy.out"
is "sip_port $BUSY_PORT (in use): 409 on sip_port" "$(patch "{\"sip_port\":\"$BUSY_PORT\"}")" "409 sip_port"
stop_pid "$BUSY_PID" 3
is "after the refusals sip_port is unchanged" "$(setting sip_port)" "$SIP_PORT"
is "after the refusals the RTP range is unchanged" "$(setting rtp_port_min)-$(setting rtp_port_max)" 20000-20999
is "nothing was stored (pbxctl setting get sip_port)" "$(ctl setting get sip_port 2>/dev/null)" ""
check "pbxd still answers OPTIONS on $SIP_PORT" options_ok

# ------------------------------------------------------------------ changes during a call

PBX=127.0.0.1:$SIP_PORT
phone_start A 1001 pw1001 "$PBX" PCMU 440 &&
phone_start B 1002 pw1002 "$PBX" PCMU 1000
check "phones A and B start" test $? = 0
check "A registers" phone_wait A REGISTER_OK 10
check "B registers" phone_wait B REGISTER_OK 10
phone_mark A; phone_mark B
phone_dial A 1002
check "A calls B: B answers" phone_wait B CALL_ESTABLISHED 10
check "A calls B: A is connected" phone_wait A CALL_ESTABLISHED 10
check "B hears A before the changes" hears_now B 440

is "PATCH sip_port $NEW_PORT during the call: 200" "$(patch "{\"sip_port\":\"$NEW_PORT\"}")" "200 "
check "pbxd answers OPTIONS on the new port $NEW_PORT (within 5 s)" wait_for 5 options_ok --port "$NEW_PORT"
check "pbxd still answers on the old port $SIP_PORT while the call is up" options_ok
is "GET settings: sip_port $NEW_PORT" "$(setting sip_port)" "$NEW_PORT"
is "PATCH the RTP range to 21000-21099 during the call: 200" \
	"$(patch '{"rtp_port_min":"21000","rtp_port_max":"21099"}')" "200 "
check "B still hears A after both changes" hears_now B 440
check "A still hears B after both changes" hears_now A 1000
is "the call was not dropped (A and B have no CALL_CLOSED)" "$(phone_count A CALL_CLOSED)$(phone_count B CALL_CLOSED)" 00
phone_hangup A
check "A hangs up: pbxd closes B's call (its BYE went through the old port)" phone_wait B CALL_CLOSED 5
is "B's call was closed by the other side" "$(phone_field B CALL_CLOSED param | head -1)" "Connection reset by peer"
check "the old port $SIP_PORT closes once its calls have ended (within 5 s)" wait_for 5 eval "! listening $SIP_PORT"
check "and pbxd no longer answers there" eval "! options_ok"
check "the new port $NEW_PORT stays" listening "$NEW_PORT"
phone_stop A; phone_stop B

# ------------------------------------------------------------------ phones on the new port

PBX=127.0.0.1:$NEW_PORT
phone_start C 1003 pw1003 "$PBX" PCMU 440 &&
phone_start D 1004 pw1004 "$PBX" PCMU 1000
check "phones C and D start on port $NEW_PORT" test $? = 0
check "C registers to the new port" phone_wait C REGISTER_OK 10
check "D registers to the new port" phone_wait D REGISTER_OK 10
phone_mark C; phone_mark D
phone_dial C 1004
check "C calls D: D answers" phone_wait D CALL_ESTABLISHED 10
check "D hears C" hears_now D 440
N_NEW=$(in_range_count 21000 21099)
N_OLD=$(in_range_count 20000 20999)
check "pbxd's media sockets of the call are in 21000-21099 ($N_NEW there, $N_OLD in the old range)" \
	eval "[ $N_NEW -ge 4 ] && [ $N_OLD = 0 ]"
phone_hangup C
check "C hangs up: D's call closes" phone_wait D CALL_CLOSED 5

# ------------------------------------------------------------------ codec order

phone_start E 1005 pw1005 "$PBX" PCMU,PCMA 440 &&
phone_start F 1006 pw1006 "$PBX" PCMU,PCMA 1000
check "phones E and F (PCMU,PCMA) start" test $? = 0
check "E registers" phone_wait E REGISTER_OK 10
check "F registers" phone_wait F REGISTER_OK 10
# call_codecs WANT: E calls F; both legs of the live call use WANT; F hears E
call_codecs() {
	phone_mark E; phone_mark F
	phone_dial E 1006
	phone_wait F CALL_ESTABLISHED 10 || return 1
	phone_wait E CALL_ESTABLISHED 10 || return 1
	wait_for 5 eval "calls | grep -qx '1005>1006:$1:$1'"
	local rc=$?
	[ $rc = 0 ] || echo "# live calls: $(calls)" >&2
	hears_now F 440 || rc=1
	phone_hangup E
	phone_wait F CALL_CLOSED 5 || rc=1
	return $rc
}
is "codec_order PCMA,PCMU: 200" "$(patch '{"codec_order":"PCMA,PCMU"}')" "200 "
check "with PCMA,PCMU both legs of E's call to F are PCMA" call_codecs PCMA
is "codec_order PCMU: 200" "$(patch '{"codec_order":"pcmu"}')" "200 "
is "GET settings: codec_order as stored" "$(setting codec_order)" "pcmu"
check "with PCMU only both legs are PCMU" call_codecs PCMU
is "codec_order PCMA: 200" "$(patch '{"codec_order":"PCMA"}')" "200 "
phone_mark C; phone_mark D
phone_dial C 1004
check "C (PCMU only) is refused" phone_wait C CALL_CLOSED 10
is "with 488 Not Acceptable Here" "$(phone_field C CALL_CLOSED param | head -1 | cut -c1-3)" 488
is "D never rang" "$(phone_count D CALL_ESTABLISHED)$(phone_count D CALL_INCOMING)" 00

# ------------------------------------------------------------------ back as started, by pbxctl

check "pbxctl setting set sip_port ''" eval "ctl setting set sip_port '' >/dev/null"
check "pbxd listens on $SIP_PORT again (within 5 s)" wait_for 5 options_ok
check "and closes $NEW_PORT (no call on it)" wait_for 5 eval "! listening $NEW_PORT"
is "GET settings: sip_port is the --sip-listen port again" "$(setting sip_port)" "$SIP_PORT"

phones_cleanup
check "pbxd exits cleanly" pbx_stop
t_done
