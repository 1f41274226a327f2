#!/bin/bash
# t_call_flow.sh: calls between extensions through pbxd's B2BUA, driven by
# real softphones (baresip A=1001 440 Hz, B=1002 1000 Hz answering by hand,
# C=1003 1700 Hz answering at once), a SIPp phone that is always busy
# (1005), sip_refer.py (the transferor of an attended transfer, 1006) and
# send_sip.py. Each flow checks what the phones saw and the call record
# (cdr table: caller|callee|dialed|disposition|hangup_by|answered, where
# answered is A when answer_at is set and - when it is NULL):
#   answered calls hung up by the caller and by the callee; CANCEL while
#   ringing; no answer within 1002's ring time (5 s) -> 480; an extension
#   not registered -> 480; an unknown number -> 404; every contact busy
#   (SIPp 486) -> 486; forwarding always, on busy (SIPp and DND), on no
#   answer; DND without forwarding -> 486; a forwarding loop 1002 -> 1003 ->
#   1002 stops at 1003, which rings; redirect (302 with the target's
#   Contact); MESSAGE relayed (200) and to nobody (480); blind transfer by
#   baresip's REFER; attended transfer (REFER with Replaces); feature codes
#   *72/*73 *90/*91 *52/*53 *78/*79 with the confirm tone, and a bad target
#   with the error tone and nothing changed.
# FLOW_SIP_TRACE=0 runs pbxd without --sip-trace.
. "$(dirname "$0")/lib.sh"
. "$SIPDIR/phone.sh"

for tool in baresip sipp sox sqlite3 python3; do
	if ! command -v "$tool" >/dev/null; then
		skip "call flows" "$tool not installed (Debian baresip-core, sip-tester, sox, sqlite3)"
		echo "1..$T_N"
		exit 0
	fi
done
require_pbx

T0=$(now_ms)
PBX=127.0.0.1:$SIP_PORT
SIPP_PORT=5090          # the busy SIPp phone, 1005
REFER_PORT=5094         # sip_refer.py, 1006 (RTP on +2 and +4)

provision_range 1000 1009
# Debian's baresip 1.0 gives up on SHA-256 challenges (see t_baresip.sh)
ctl setting set auth_algorithms MD5 >/dev/null
ctl ext set 1002 --ring-time 5 >/dev/null
[ "${FLOW_SIP_TRACE:-1}" = 1 ] && PBX_ARGS+=(--sip-trace)
if ! pbx_start; then not_ok "pbxd starts and answers /healthz"; t_done; fi
ok "pbxd starts and answers /healthz"

# ------------------------------------------------------------------ helpers

sq() { sqlite3 -cmd '.timeout 3000' "$DB" "$@" 2>&1; }
cdr_last() { sq 'SELECT coalesce(max(id), 0) FROM cdr;'; }
cdr_rows() {
	sq "SELECT caller || '|' || callee || '|' || dialed || '|' || disposition || '|' || hangup_by || '|' ||
	    CASE WHEN answer_at IS NULL THEN '-' ELSE 'A' END FROM cdr WHERE id > $1 ORDER BY id;"
}
cdr_at_least() { [ "$(sq "SELECT count(*) FROM cdr WHERE id > $1;")" -ge "$2" ]; }

# cdr_is LABEL SINCE ROW...: the rows written after id SINCE (waited for, 5 s), in any order
cdr_is() {
	local label=$1 since=$2 want got
	shift 2
	want=$(printf '%s\n' "$@" | sort)
	wait_for 5 cdr_at_least "$since" $#
	got=$(cdr_rows "$since" | sort)
	is "$label: call record (caller|callee|dialed|disposition|hangup_by|answered)" "$got" "$want"
}

ext_col() { sq "SELECT $2 FROM extensions WHERE number = '$1';"; }
ext_col_is() { [ "$(ext_col "$1" "$2")" = "$3" ]; }

# fwd_apply CTL-ARGS...: a pbxctl change, then wait until pbxd runs with it
fwd_apply() {
	local out
	if ! out=$(ctl "$@" 2>&1); then
		diag "pbxctl $* failed: $out"
		return 1
	fi
	settings_barrier
}

marks() { local p; for p in "$@"; do phone_mark "$p"; done; }

# closed NAME: the reason of NAME's last CALL_CLOSED since the mark
closed() { phone_field "$1" CALL_CLOSED param | tail -1; }

# dial NAME TARGET: phone_dial, never in the same wall-clock second as the
# previous dial (baresip names its recordings by the second of the call's start)
LAST_DIAL_S=0
dial() {
	local end=$(( $(now_ms) + 1500 ))
	while [ "$(date +%s)" = "$LAST_DIAL_S" ] && [ "$(now_ms)" -lt "$end" ]; do sleep 0.05; done
	LAST_DIAL_S=$(date +%s)
	phone_dial "$1" "$2"
}

# between MS LO HI: LO <= MS <= HI
between() { [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }

# rec_now NAME: how many seconds NAME's current recording holds now, plus
# 0.5 s (what libsndfile may not have written yet): where what NAME hears
# from now on starts in that recording
rec_now() {
	local f s
	f=$(phone_recording "$1") && s=$(wav_seconds "$f") || { echo 0; return 1; }
	awk -v s="$s" 'BEGIN{printf "%.2f", s + 0.5}'
}
plus() { awk -v a="$1" -v b="$2" 'BEGIN{print a + b}'; }

# answered_call LABEL CALLER CALLEE_PHONE TARGET: CALLER dials TARGET, the
# callee phone answers (B by hand); both established, 1.5 s of audio each way
answered_call() {
	local label=$1 a=$2 b=$3 target=$4
	dial "$a" "$target"
	if [ "$b" = B ]; then
		check "$label: B rings (CALL_INCOMING)" phone_wait B CALL_INCOMING 5
		check "$label: A hears ringing (CALL_RINGING, from the 180)" phone_wait "$a" CALL_RINGING 5
		phone_accept B
	fi
	check "$label: $a reports CALL_ESTABLISHED" phone_wait "$a" CALL_ESTABLISHED 8
	check "$label: $b reports CALL_ESTABLISHED" phone_wait "$b" CALL_ESTABLISHED 8
	check "$label: $a and $b record 1.5 s of audio" \
		eval "phone_wait_audio $a 1.5 && phone_wait_audio $b 1.5"
}

sip_invite_tpl() { # FROM TO RTPPORT
	printf 'INVITE sip:%s@%s SIP/2.0\n' "$2" "$PBX"
	printf 'Via: SIP/2.0/{{TRANSPORT}} {{LOCAL}};branch={{BRANCH}};rport\nMax-Forwards: 70\n'
	printf 'From: <sip:%s@%s>;tag={{TAG}}\nTo: <sip:%s@%s>\n' "$1" "$DOMAIN" "$2" "$DOMAIN"
	printf 'Call-ID: {{CALLID}}\nCSeq: {{CSEQ}} INVITE\nContact: <sip:%s@{{LOCAL}}>\n' "$1"
	printf 'Content-Type: application/sdp\nContent-Length: {{CL}}\n\n'
	printf 'v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n'
	printf 'm=audio %s RTP/AVP 0\na=rtpmap:0 PCMU/8000\n' "$3"
}

sip_message_tpl() { # FROM TO TEXT
	printf 'MESSAGE sip:%s@%s SIP/2.0\n' "$2" "$PBX"
	printf 'Via: SIP/2.0/{{TRANSPORT}} {{LOCAL}};branch={{BRANCH}};rport\nMax-Forwards: 70\n'
	printf 'From: <sip:%s@%s>;tag={{TAG}}\nTo: <sip:%s@%s>\n' "$1" "$DOMAIN" "$2" "$DOMAIN"
	printf 'Call-ID: {{CALLID}}\nCSeq: {{CSEQ}} MESSAGE\nContent-Type: text/plain\nContent-Length: {{CL}}\n\n%s' "$3"
}

# ------------------------------------------------------------------ phones

check "phone A (1001, PCMU, 440 Hz) starts" phone_start A 1001 pw1001 "$PBX" PCMU 440
check "phone B (1002, PCMU, 1000 Hz, answers by hand) starts" \
	phone_start B 1002 pw1002 "$PBX" PCMU 1000 answermode=manual
check "phone C (1003, PCMU, 1700 Hz) starts" phone_start C 1003 pw1003 "$PBX" PCMU 1700
for p in A B C; do check "phone $p registers" phone_wait "$p" REGISTER_OK 10; done
check "1001, 1002 and 1003 are in reg list" \
	eval 'reg_wait 1001 . 1 && reg_wait 1002 . 1 && reg_wait 1003 . 1'

# ------------------------------------------------------------------ BYE from each side

marks A B C; since=$(cdr_last)
answered_call "bye by caller" A B 1002
phone_hangup A
check "bye by caller: A's call closes" phone_wait A CALL_CLOSED 5
check "bye by caller: B's call closes" phone_wait B CALL_CLOSED 5
is "bye by caller: B is told the peer hung up" "$(closed B)" "Connection reset by peer"
check "bye by caller: A hears B (1000 Hz)" assert_hears A 1000
check "bye by caller: B hears A (440 Hz)" assert_hears B 440
check "bye by caller: A does not hear itself" assert_not_hears A 440
cdr_is "bye by caller" "$since" "1001|1002|1002|answered|caller|A"

marks A B C; since=$(cdr_last)
answered_call "bye by callee" A B 1002
phone_hangup B
check "bye by callee: B's call closes" phone_wait B CALL_CLOSED 5
check "bye by callee: A's call closes" phone_wait A CALL_CLOSED 5
is "bye by callee: A is told the peer hung up" "$(closed A)" "Connection reset by peer"
cdr_is "bye by callee" "$since" "1001|1002|1002|answered|callee|A"

# ------------------------------------------------------------------ CANCEL before the answer

marks A B C; since=$(cdr_last)
dial A 1002
check "cancel: B rings" phone_wait B CALL_INCOMING 5
check "cancel: A hears ringing" phone_wait A CALL_RINGING 5
phone_hangup A
check "cancel: A's call closes" phone_wait A CALL_CLOSED 5
check "cancel: B's ringing call closes (CANCEL from the PBX)" phone_wait B CALL_CLOSED 5
check "cancel: B never established" test "$(phone_count B CALL_ESTABLISHED)" = 0
cdr_is "cancel" "$since" "1001|1002|1002|cancelled||-"

# ------------------------------------------------------------------ no answer

marks A B C; since=$(cdr_last)
t=$(now_ms)
dial A 1002
check "no answer: B rings" phone_wait B CALL_INCOMING 5
if phone_wait A CALL_CLOSED 12; then
	el=$(( $(now_ms) - t ))
	ok "no answer: A's call closes"
	if between "$el" 4500 8000; then
		ok "no answer: ... after the 5 s ring time (${el} ms)"
	else
		not_ok "no answer: ... after the 5 s ring time (${el} ms, want 4500..8000)"
	fi
else
	not_ok "no answer: A's call closes"
	not_ok "no answer: ... after the 5 s ring time"
fi
is "no answer: A gets 480" "$(closed A)" "480 Temporarily Unavailable"
check "no answer: B's ringing call closes (CANCEL)" phone_wait B CALL_CLOSED 5
check "no answer: B never established" test "$(phone_count B CALL_ESTABLISHED)" = 0
cdr_is "no answer" "$since" "1001|1002|1002|noanswer||-"

# ------------------------------------------------------------------ not registered, unknown number

marks A; since=$(cdr_last)
dial A 1004
check "not registered: A's call closes" phone_wait A CALL_CLOSED 5
is "not registered: A gets 480" "$(closed A)" "480 Temporarily Unavailable"
cdr_is "not registered" "$since" "1001|1004|1004|unavailable||-"

marks A; since=$(cdr_last)
dial A 1099
check "unknown number: A's call closes" phone_wait A CALL_CLOSED 5
is "unknown number: A gets 404" "$(closed A)" "404 Not Found"
cdr_is "unknown number" "$since" "1001||1099|failed||-"

# ------------------------------------------------------------------ busy (SIPp answers 486)

got=$(register 1005 pw1005 "<sip:1005@127.0.0.1:$SIPP_PORT>" 600 --bind "127.0.0.1:$SIPP_PORT" | status_of)
is "busy: the SIPp phone's contact registers as 1005" "$got" 200
sipp -sf "$SIPDIR/scenarios/uas_busy.xml" -i 127.0.0.1 -mi 127.0.0.1 -p "$SIPP_PORT" -m 2 -timeout 120 \
	-nostdin -trace_msg -message_file "$WORK/sipp_busy.msg" >"$WORK/sipp_busy.screen" 2>&1 &
SIPP_PID=$!
BG_PIDS+=("$SIPP_PID")
check "busy: SIPp listens on $SIPP_PORT" \
	wait_for 5 eval "ss -Hlun 2>/dev/null | awk '{print \$4, \$5}' | grep -q '127.0.0.1:$SIPP_PORT'"

marks A; since=$(cdr_last)
dial A 1005
check "busy: A's call closes" phone_wait A CALL_CLOSED 8
is "busy: A gets 486" "$(closed A)" "486 Busy Here"
cdr_is "busy" "$since" "1001|1005|1005|busy||-"

# ------------------------------------------------------------------ forwarding

# busy forwarding: 1005 (SIPp, 486) forwards to 1003
check "busy forwarding: pbxctl ext fwd 1005 --busy 1003" fwd_apply ext fwd 1005 --busy 1003
marks A C; since=$(cdr_last)
answered_call "busy forwarding" A C 1005
check "busy forwarding: A hears C (1700 Hz)" assert_hears A 1700
phone_hangup A
check "busy forwarding: C's call closes" phone_wait C CALL_CLOSED 5
cdr_is "busy forwarding" "$since" "1001|1003|1005|answered|caller|A"
if wait_for 10 eval "! kill -0 $SIPP_PID 2>/dev/null"; then
	wait "$SIPP_PID"
	rc=$?
	is "busy: SIPp answered both INVITEs 486 and got the ACKs (exit status)" "$rc" 0
	[ "$rc" = 0 ] || diag "$(tail -30 "$WORK/sipp_busy.screen")"
else
	not_ok "busy: SIPp ended after its 2 calls"
	stop_pid "$SIPP_PID" 3
fi
register 1005 pw1005 "<sip:1005@127.0.0.1:$SIPP_PORT>" 0 --bind "127.0.0.1:$SIPP_PORT" >/dev/null

# always
check "always: pbxctl ext fwd 1002 --always 1003" fwd_apply ext fwd 1002 --always 1003
marks A B C; since=$(cdr_last)
answered_call "always" A C 1002
check "always: A hears C (1700 Hz)" assert_hears A 1700
check "always: B never rang" test "$(phone_count B CALL_INCOMING)" = 0
phone_hangup A
check "always: C's call closes" phone_wait C CALL_CLOSED 5
cdr_is "always" "$since" "1001|1003|1002|answered|caller|A"

# a loop: 1002 -> 1003 -> 1002 stops at 1003 (the second hop would revisit 1002), which rings
check "loop: pbxctl ext fwd 1003 --always 1002" fwd_apply ext fwd 1003 --always 1002
marks A B C; since=$(cdr_last)
answered_call "loop" A C 1002
check "loop: B never rang" test "$(phone_count B CALL_INCOMING)" = 0
phone_hangup A
check "loop: C's call closes" phone_wait C CALL_CLOSED 5
cdr_is "loop" "$since" "1001|1003|1002|answered|caller|A"
check "loop: pbxd logged the stopped loop" grep -q 'forwarding loop at 1003 -> 1002, stopped' "$PBX_LOG"
check "loop: pbxd still runs" pbx_alive

# redirect: 302 with the target's Contact instead of a bridged call
check "redirect: pbxctl ext fwd 1003 --off always" fwd_apply ext fwd 1003 --off always
check "redirect: pbxctl ext set 1002 --redirect on" fwd_apply ext set 1002 --redirect on
since=$(cdr_last)
out=$(sip_invite_tpl 1001 1002 5096 | sip --auth 1001:pw1001 --show full --wait 5)
last=$(echo "$out" | last_reply)
is "redirect: the caller gets 302" "$(echo "$last" | status_of)" 302
ct=$(echo "$last" | contacts | head -1)
if [[ "$ct" == *"sip:1003@127.0.0.1"* ]]; then
	ok "redirect: ... with Contact of 1003 ($ct)"
else
	not_ok "redirect: ... with Contact of 1003"
	diag "replies:" "$out"
fi
cdr_is "redirect" "$since" "1001|1003|1002|redirected||-"
check "redirect: pbxctl ext set 1002 --redirect off, fwd off" \
	eval 'ctl ext set 1002 --redirect off >/dev/null && fwd_apply ext fwd 1002 --off all'

# DND without forwarding: busy
check "dnd: pbxctl ext dnd 1002 on" fwd_apply ext dnd 1002 on
marks A B; since=$(cdr_last)
dial A 1002
check "dnd: A's call closes" phone_wait A CALL_CLOSED 5
is "dnd: A gets 486" "$(closed A)" "486 Busy Here"
check "dnd: B never rang" test "$(phone_count B CALL_INCOMING)" = 0
cdr_is "dnd" "$since" "1001|1002|1002|busy||-"

# DND with busy forwarding: to 1003
check "dnd+busy forwarding: pbxctl ext fwd 1002 --busy 1003" fwd_apply ext fwd 1002 --busy 1003
marks A B C; since=$(cdr_last)
answered_call "dnd+busy forwarding" A C 1002
check "dnd+busy forwarding: B never rang" test "$(phone_count B CALL_INCOMING)" = 0
phone_hangup A
check "dnd+busy forwarding: C's call closes" phone_wait C CALL_CLOSED 5
cdr_is "dnd+busy forwarding" "$since" "1001|1003|1002|answered|caller|A"
check "dnd off, busy forwarding off" eval 'ctl ext dnd 1002 off >/dev/null && fwd_apply ext fwd 1002 --off busy'

# no-answer forwarding: B rings for its ring time (5 s), then C
check "no-answer forwarding: pbxctl ext fwd 1002 --noanswer 1003" fwd_apply ext fwd 1002 --noanswer 1003
marks A B C; since=$(cdr_last)
t=$(now_ms)
dial A 1002
check "no-answer forwarding: B rings first" phone_wait B CALL_INCOMING 5
check "no-answer forwarding: C answers" phone_wait C CALL_ESTABLISHED 12
el=$(( $(now_ms) - t ))
if between "$el" 4500 9000; then
	ok "no-answer forwarding: ... after 1002's ring time (${el} ms)"
else
	not_ok "no-answer forwarding: ... after 1002's ring time (${el} ms, want 4500..9000)"
fi
check "no-answer forwarding: B's ringing call closes" phone_wait B CALL_CLOSED 5
check "no-answer forwarding: A reports CALL_ESTABLISHED" phone_wait A CALL_ESTABLISHED 5
check "no-answer forwarding: A records 1.5 s" phone_wait_audio A 1.5
check "no-answer forwarding: A hears C (1700 Hz)" assert_hears A 1700
phone_hangup A
check "no-answer forwarding: C's call closes" phone_wait C CALL_CLOSED 5
cdr_is "no-answer forwarding" "$since" "1001|1003|1002|answered|caller|A"
check "no-answer forwarding off" fwd_apply ext fwd 1002 --off noanswer

# ------------------------------------------------------------------ MESSAGE

marks B
text="flow-test-message-$$"
out=$(sip_message_tpl 1001 1002 "$text" | sip --auth 1001:pw1001 --wait 5)
is "message: to registered 1002 answered 200" "$(echo "$out" | tail -1 | cut -d' ' -f2)" 200
check "message: B's baresip shows the text" wait_for 3 eval "phone_log B | grep -q -- '$text'"
out=$(sip_message_tpl 1001 1004 "nobody-home" | sip --auth 1001:pw1001 --wait 5)
is "message: to unregistered 1004 answered 480" "$(echo "$out" | tail -1 | cut -d' ' -f2)" 480

# ------------------------------------------------------------------ blind transfer (baresip B)

marks A B C; since=$(cdr_last)
answered_call "blind transfer" A B 1002
phone_transfer B 1003
check "blind transfer: B's call closes" phone_wait B CALL_CLOSED 5
check "blind transfer: C answers" phone_wait C CALL_ESTABLISHED 8
from=$(rec_now A)
check "blind transfer: A's call goes on" test "$(phone_count A CALL_CLOSED)" = 0
check "blind transfer: C records 2 s" phone_wait_audio C 2
check "blind transfer: A records 1.5 s after the transfer" phone_wait_audio A "$(plus "$from" 1.5)"
check "blind transfer: A hears C (1700 Hz) after the transfer" assert_hears A 1700 "$from" 1
check "blind transfer: ... and no longer B (1000 Hz)" assert_not_hears A 1000 "$from" 1
check "blind transfer: C hears A (440 Hz)" assert_hears C 440
phone_hangup A
check "blind transfer: C's call closes" phone_wait C CALL_CLOSED 5
cdr_is "blind transfer" "$since" "1001|1002|1002|answered|system|A" "1001|1003|1003|answered|caller|A"

# ------------------------------------------------------------------ attended transfer (sip_refer.py as 1006)

marks A C; since=$(cdr_last)
python3 "$SIPDIR/sip_refer.py" --user 1006 --password pw1006 --pbx "$PBX" --port "$REFER_PORT" \
	--target 1003 --settle 2 --timeout 25 >"$WORK/refer.out" 2>&1 &
REFER_PID=$!
BG_PIDS+=("$REFER_PID")
check "attended transfer: 1006 registers" wait_for 5 grep -q '^REGISTERED' "$WORK/refer.out"
dial A 1006
check "attended transfer: 1006 answers A" wait_for 5 grep -q '^ANSWERED' "$WORK/refer.out"
check "attended transfer: A reports CALL_ESTABLISHED" phone_wait A CALL_ESTABLISHED 5
check "attended transfer: 1006 calls 1003 and C answers" phone_wait C CALL_ESTABLISHED 8
check "attended transfer: 1006 has both calls up" wait_for 5 grep -q '^CONNECTED' "$WORK/refer.out"
if wait_for 30 eval "! kill -0 $REFER_PID 2>/dev/null"; then
	wait "$REFER_PID"
	rc=$?
else
	rc=timeout
fi
is "attended transfer: sip_refer.py did every step (exit status)" "$rc" 0
[ "$rc" = 0 ] || diag "sip_refer.py:" "$(cat "$WORK/refer.out")"
check "attended transfer: REFER answered 202" grep -q '^REFER 202' "$WORK/refer.out"
check "attended transfer: NOTIFY says 200" grep -q '^NOTIFY SIP/2.0 200' "$WORK/refer.out"
check "attended transfer: the PBX hung up 1006's call with A (BYE)" grep -q '^BYE 1' "$WORK/refer.out"
check "attended transfer: the PBX hung up 1006's call with C (BYE)" grep -q '^BYE 2' "$WORK/refer.out"
check "attended transfer: A's and C's calls go on" \
	test "$(phone_count A CALL_CLOSED)" = 0 -a "$(phone_count C CALL_CLOSED)" = 0
if grep -q '^NOTIFY SIP/2.0 200' "$WORK/refer.out"; then
	from_a=$(rec_now A)
	from_c=$(rec_now C)
	check "attended transfer: A and C record 1.5 s after the transfer" \
		eval "phone_wait_audio A $(plus "$from_a" 1.5) && phone_wait_audio C $(plus "$from_c" 1.5)"
	check "attended transfer: A hears C (1700 Hz)" assert_hears A 1700 "$from_a" 1
	check "attended transfer: C hears A (440 Hz)" assert_hears C 440 "$from_c" 1
else
	not_ok "attended transfer: A and C talk to each other (no transfer took place)"
fi
phone_hangup A
check "attended transfer: C's call closes" phone_wait C CALL_CLOSED 5
cdr_is "attended transfer" "$since" "1001|1006|1006|answered|system|A" "1006|1003|1003|answered|caller|A"

# ------------------------------------------------------------------ feature codes from phone A

# feature CODE TONE COLUMN VALUE: A dials CODE, hears TONE (confirm: 600, 800,
# 1000 Hz beeps of 100 ms; error: 400 Hz), the PBX hangs up; then
# extensions.COLUMN of 1001 is VALUE. The recording of such a call is shorter
# than band_level's usual minimum, and a 100 ms beep in it measures about 0.09.
FEATURE_TONE_MIN=${FEATURE_TONE_MIN:-0.02}
tone_heard() { AUDIO_MIN_SECONDS=0.1 PHONE_HEARS_MIN=$FEATURE_TONE_MIN assert_hears A "$1" 0; }
tone_silent() { AUDIO_MIN_SECONDS=0.1 assert_not_hears A "$1" 0; }
feature() {
	local code=$1 tone=$2 col=$3 want=$4 rec lv="" f since
	marks A; since=$(cdr_last)
	dial A "$code"
	check "$code: the PBX answers" phone_wait A CALL_ESTABLISHED 5
	check "$code: ... and hangs up after the tone" phone_wait A CALL_CLOSED 8
	is "$code: A is told the PBX hung up" "$(closed A)" "Connection reset by peer"
	if rec=$(phone_recording A); then
		for f in 400 600 800 1000; do lv+="$f Hz $(AUDIO_MIN_SECONDS=0.1 band_level "$rec" "$f" 0 2>/dev/null) "; done
		diag "$code: A heard $(wav_seconds "$rec") s; band levels: $lv"
	fi
	if [ "$tone" = confirm ]; then
		check "$code: A heard the confirm tone (its first beep, 600 Hz)" tone_heard 600
		check "$code: ... not the error tone (400 Hz)" tone_silent 400
	else
		check "$code: A heard the error tone (400 Hz)" tone_heard 400
		check "$code: ... not the confirm tone (600 Hz)" tone_silent 600
	fi
	cdr_is "$code" "$since" "1001||$code|answered|system|A"
	# the jobs thread writes in order: the change (if any) is in before the call record
	if wait_for 3 ext_col_is 1001 "$col" "$want"; then
		ok "$code: 1001's $col is '$want'"
	else
		not_ok "$code: 1001's $col is '$want'"
		diag "got '$(ext_col 1001 "$col")'"
	fi
}

feature '*721003' confirm fwd_always 1003
# the phone must hear the whole tone before the PBX hangs up
check "*721003: A heard the confirm tone's last beep (1000 Hz) before the hang-up" tone_heard 1000
# the new rule routes at once: B calling 1001 reaches C
marks A B C; since=$(cdr_last)
dial B 1001
check "*721003 in use: C answers B's call to 1001" phone_wait C CALL_ESTABLISHED 8
check "*721003 in use: A never rang" test "$(phone_count A CALL_ESTABLISHED)" = 0
phone_hangup B
check "*721003 in use: C's call closes" phone_wait C CALL_CLOSED 5
cdr_is "*721003 in use" "$since" "1002|1003|1001|answered|caller|A"
# a target that is no extension: the error tone, and the rule stays as it was
feature '*729999' error fwd_always 1003
feature '*73' confirm fwd_always ''
feature '*901003' confirm fwd_busy 1003
feature '*91' confirm fwd_busy ''
feature '*521003' confirm fwd_noanswer 1003
feature '*53' confirm fwd_noanswer ''
feature '*78' confirm dnd 1
feature '*79' confirm dnd 0

check "pbxd still runs" pbx_alive
diag "call flows took $(( ($(now_ms) - T0) / 1000 )) s"
phones_cleanup
t_done
