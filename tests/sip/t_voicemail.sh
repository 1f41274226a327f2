#!/bin/bash
# t_voicemail.sh: leaving voicemail messages through pbxd with real phones.
# baresip A=1001 sends a 440 Hz tone (PCMU) or C=1003 a 1700 Hz tone (Opus);
# B=1002 rings and never answers (answermode=manual, ring time 5 s); a SIPp
# phone (1005) is always busy; 1004 is not registered. Each message is read
# back from the spool with opusfile (tests/sip/opus_decode, built
# by make unit) and must hold the caller's tone for the length of its row:
#   no answer, busy (SIPp 486), DND, not registered -> greeting, beep,
#   message stored (row: caller, folder new; file decodes; tone; duration);
#   '#' ends the message and the PBX hangs up after "saved"; a message under
#   a second is discarded; a mailbox with vm_on off gives the old 480;
#   a full spool (a tiny tmpfs) and a read-only one: the caller hears
#   "mailbox unavailable" and is hung up on, no row is added, and the
#   messages already stored are untouched and still decode; CDR rows.
. "$(dirname "$0")/lib.sh"
. "$SIPDIR/phone.sh"

for tool in baresip sipp sox sqlite3 python3; do
	if ! command -v "$tool" >/dev/null; then
		skip "voicemail" "$tool not installed"
		echo "1..$T_N"
		exit 0
	fi
done
require_pbx

PBX=127.0.0.1:$SIP_PORT
SIPP_PORT=5090

# tests/sip/opus_decode (built by make unit): opusfile, apart from the code under test
DECODE=$ROOT/tests/sip/opus_decode
if [ ! -x "$DECODE" ]; then
	not_ok "tests/sip/opus_decode is built (make unit)"
	t_done
fi
# decode_wav IN.opus OUT.wav: decode with opusfile, print the length in ms
decode_wav() {
	"$DECODE" "$1" >"$2.raw" || return 1
	sox -t raw -r 48000 -e signed-integer -b 16 -c 1 "$2.raw" "$2" || return 1
	echo $(( $(stat -c %s "$2.raw") / 96 ))
}

PROVISION_VM=1 provision_range 1000 1009
ctl setting set auth_algorithms MD5 >/dev/null
ctl ext set 1002 --ring-time 5 >/dev/null || not_ok "pbxctl ext set 1002 --ring-time 5"
ctl ext set 1005 --ring-time 5 >/dev/null || not_ok "pbxctl ext set 1005 --ring-time 5"
if ! pbx_start; then not_ok "pbxd starts and answers /healthz"; t_done; fi
ok "pbxd starts and answers /healthz"

sq() { sqlite3 -cmd '.timeout 3000' "$DB" "$@" 2>&1; }
msg_count() { sq "SELECT count(*) FROM vm_messages WHERE mailbox = '$1';"; }
msgs_at_least() { [ "$(msg_count "$1")" -ge "$2" ]; }
# last_msg MAILBOX: "caller|folder|duration_ms|file" of its newest message
last_msg() { sq "SELECT caller || '|' || folder || '|' || duration_ms || '|' || file FROM vm_messages
	WHERE mailbox = '$1' ORDER BY id DESC LIMIT 1;"; }
field() { cut -d'|' -f"$2" <<<"$1"; }

LAST_DIAL_S=0
dial() {
	local end=$(( $(now_ms) + 1500 ))
	while [ "$(date +%s)" = "$LAST_DIAL_S" ] && [ "$(now_ms)" -lt "$end" ]; do sleep 0.05; done
	LAST_DIAL_S=$(date +%s)
	phone_dial "$1" "$2"
}
log_has() { grep -q -- "$1" "$PBX_LOG"; }
log_count() { grep -c -- "$1" "$PBX_LOG"; }

# (MAX_MS leaves 3 s over what the caller spoke: on a loaded machine the '#'
# or BYE reaches pbxd late, and what came before it is recorded, rightly)
# check_message LABEL MAILBOX CALLER FREQ MIN_MS MAX_MS: the newest message of
# MAILBOX is from CALLER, new, MIN_MS..MAX_MS long, and its file decodes
# to that length (±200 ms) holding FREQ Hz
check_message() {
	local label=$1 box=$2 caller=$3 freq=$4 min=$5 max=$6 row f dec
	row=$(last_msg "$box")
	is "$label: the row's caller and folder" "$(field "$row" 1)|$(field "$row" 2)" "$caller|new"
	f=$(field "$row" 4)
	check "$label: the file $f is in the spool" test -s "$SPOOL/$f"
	check "$label: the row's duration $(field "$row" 3) ms is $min..$max" \
		eval "[ '$(field "$row" 3)' -ge $min ] && [ '$(field "$row" 3)' -le $max ]"
	dec=$(decode_wav "$SPOOL/$f" "$WORK/dec_$box.wav" 2>&1)
	check "$label: the file decodes with opusfile ($dec ms)" \
		eval "[ '${dec//[!0-9]/}' -gt 0 ] && [ \$(( ${dec//[!0-9]/} - $(field "$row" 3) )) -le 200 ] &&
		      [ \$(( $(field "$row" 3) - ${dec//[!0-9]/} )) -le 200 ]"
	check "$label: the message holds the caller's $freq Hz tone" band_above "$WORK/dec_$box.wav" "$freq" 0.1 0.3
}

# ------------------------------------------------------------------ phones

check "phone A (1001, PCMU, 440 Hz) starts" phone_start A 1001 pw1001 "$PBX" PCMU 440
check "phone B (1002, never answers) starts" phone_start B 1002 pw1002 "$PBX" PCMU 1000 "answermode=manual"
check "phone C (1003, Opus, 1700 Hz) starts" phone_start C 1003 pw1003 "$PBX" opus/48000/2 1700
check "A, B and C are registered" eval 'reg_wait 1001 . 1 && reg_wait 1002 . 1 && reg_wait 1003 . 1'

# leave LABEL CALLER TARGET SECS: CALLER dials TARGET, the PBX answers (after
# the ring time), and CALLER hangs up SECS after the recording started
leave() {
	local label=$1 who=$2 target=$3 secs=$4 n
	n=$(log_count "recording for $target ended by hang-up")
	n_started=$(log_count "to the voicemail of $target")
	phone_mark "$who"
	dial "$who" "$target"
	check "$label: the PBX answers $who (CALL_ESTABLISHED)" phone_wait "$who" CALL_ESTABLISHED 12
	check "$label: pbxd took the call to the voicemail of $target" \
		wait_for 5 eval "[ \$(log_count 'to the voicemail of $target') -gt $n_started ]"
	# the greeting ends with the beep; recording starts then (logged by the engine's start)
	check "$label: $who hears the greeting" phone_wait_audio "$who" 2 8
	sleep_until_recording "$target" || diag "$label: no sign of the recording starting"
	local end=$(( $(now_ms) + secs * 1000 ))
	while [ "$(now_ms)" -lt "$end" ]; do sleep 0.1; done
	phone_hangup "$who"
	check "$label: $who's call closed" phone_wait "$who" CALL_CLOSED 5
	check "$label: pbxd logged the recording's end by hang-up" \
		wait_for 5 eval "[ \$(log_count 'recording for $target ended by hang-up') -gt $n ]"
}

# sleep_until_recording MAILBOX: wait (bounded) until pbxd logs that the
# greeting and beep have played and the recording for MAILBOX started
sleep_until_recording() {
	wait_for 15 eval "grep -q 'recording started for $1' \"\$PBX_LOG\" && [ \$(grep -c 'recording started for $1' \"\$PBX_LOG\") -gt ${REC_SEEN[$1]:-0} ]"
	local rc=$?
	REC_SEEN[$1]=$(grep -c "recording started for $1" "$PBX_LOG")
	return $rc
}
declare -A REC_SEEN

# ------------------------------------------------------------------ no answer
since=$(sq 'SELECT coalesce(max(id), 0) FROM cdr;')
leave "no answer" A 1002 4
check "no answer: the message row appears" wait_for 20 msgs_at_least 1002 1
check_message "no answer" 1002 1001 440 3500 7000
check "no answer: B rang and never answered" eval "[ \$(phone_count B CALL_INCOMING) -ge 1 ]"
is "no answer: CDR row (caller|callee|disposition)" \
	"$(sq "SELECT caller || '|' || callee || '|' || disposition FROM cdr WHERE id > $since ORDER BY id LIMIT 1;")" \
	"1001|1002|noanswer"

# ------------------------------------------------------------------ an Opus caller
leave "Opus caller" C 1002 3
check "Opus caller: the message row appears" wait_for 20 msgs_at_least 1002 2
check_message "Opus caller" 1002 1003 1700 2500 6500

# ------------------------------------------------------------------ '#' ends the message
n0=$(msg_count 1002)
phone_mark A
dial A 1002
check "#: the PBX answers A" phone_wait A CALL_ESTABLISHED 12
check "#: the recording starts" sleep_until_recording 1002
end=$(( $(now_ms) + 3000 )); while [ "$(now_ms)" -lt "$end" ]; do sleep 0.1; done
phone_dtmf A '#'
check "#: pbxd logged the end by #" wait_for 5 log_has "recording for 1002 ended by #"
check "#: the PBX hangs up after saying the message is saved" phone_wait A CALL_CLOSED 15
check "#: the message row appears" wait_for 10 msgs_at_least 1002 $((n0 + 1))
check_message "#" 1002 1001 440 2500 6500

# ------------------------------------------------------------------ too short
n0=$(msg_count 1002)
phone_mark A
dial A 1002
check "short: the PBX answers A" phone_wait A CALL_ESTABLISHED 12
check "short: the recording starts" sleep_until_recording 1002
phone_hangup A
check "short: A's call closed" phone_wait A CALL_CLOSED 5
check "short: pbxd discards the message under a second" \
	wait_for 10 log_has "message for 1002 from 1001 under a second, discarded"
is "short: no row is added" "$(msg_count 1002)" "$n0"

# ------------------------------------------------------------------ busy (SIPp answers 486)
got=$(register 1005 pw1005 "<sip:1005@127.0.0.1:$SIPP_PORT>" 600 --bind "127.0.0.1:$SIPP_PORT" | status_of)
is "busy: SIPp's contact for 1005 registered" "$got" 200
sipp -sf "$SIPDIR/scenarios/uas_busy.xml" -i 127.0.0.1 -mi 127.0.0.1 -p "$SIPP_PORT" -m 1 -timeout 60 \
	-bg >/dev/null 2>&1
check "busy: SIPp listens on $SIPP_PORT" \
	wait_for 5 eval "ss -Hlun 2>/dev/null | awk '{print \$4}' | grep -q '127.0.0.1:$SIPP_PORT'"
leave "busy" A 1005 3
check "busy: the message row appears" wait_for 20 msgs_at_least 1005 1
check_message "busy" 1005 1001 440 2500 6500
pkill -f "sipp.*-p $SIPP_PORT" 2>/dev/null

# ------------------------------------------------------------------ DND, not registered
ctl ext dnd 1003 on >/dev/null
settings_barrier
leave "DND" A 1003 3
check "DND: the message row appears" wait_for 20 msgs_at_least 1003 1
check_message "DND" 1003 1001 440 2500 6500
ctl ext dnd 1003 off >/dev/null

leave "not registered" A 1004 3
check "not registered: the message row appears" wait_for 20 msgs_at_least 1004 1
check_message "not registered" 1004 1001 440 2500 6500

# ------------------------------------------------------------------ vm_on off: as before
ctl vm mailbox 1006 --vm-on '' >/dev/null 2>&1 || ctl vm mailbox 1006 --vm-on busy >/dev/null
settings_barrier
phone_mark A
dial A 1006
check "vm_on without unavailable: A's call to the unregistered 1006 closes (480)" phone_wait A CALL_CLOSED 10
check "vm_on without unavailable: no voicemail" eval "! log_has 'to the voicemail of 1006'"

# ------------------------------------------------------------------ email notification
MAILDIR=$WORK/mail
mkdir -p "$MAILDIR"
python3 "$SIPDIR/smtp_sink.py" 2525 "$MAILDIR" 240 &
SINK_PID=$!
check "email: the SMTP sink listens on 2525" \
	wait_for 5 eval "ss -Hltn 2>/dev/null | awk '{print \$4}' | grep -q '127.0.0.1:2525'"
for kv in "smtp_host 127.0.0.1" "smtp_port 2525" "smtp_tls none" "smtp_from pbx@office.example"; do
	# shellcheck disable=SC2086
	ctl setting set $kv >/dev/null || not_ok "pbxctl setting set $kv"
done
ctl vm mailbox 1002 --email boss@office.example >/dev/null || not_ok "pbxctl vm mailbox 1002 --email"
settings_barrier
n0=$(msg_count 1002)
leave "email" A 1002 3
check "email: the message row appears" wait_for 20 msgs_at_least 1002 $((n0 + 1))
mail_file() { ls "$MAILDIR"/mail-*.eml 2>/dev/null | head -1; }
check "email: the sink received a mail" wait_for 20 eval '[ -n "$(mail_file)" ]'
row=$(last_msg 1002)
check "email: the row's delivery status says sent" wait_for 10 eval \
	"sq \"SELECT email_status FROM vm_messages WHERE file = '$(field "$row" 4)';\" | grep -q '^sent: 250'"
check "email: To the mailbox's address, the recording attached (audio/ogg, the stored bytes)" \
	python3 - "$(mail_file)" "$SPOOL/$(field "$row" 4)" <<'EOF2'
import email, sys
msg = email.message_from_binary_file(open(sys.argv[1], 'rb'))
assert 'boss@office.example' in msg['To'], msg['To']
parts = [p for p in msg.walk() if p.get_content_type() == 'audio/ogg']
assert len(parts) == 1, [p.get_content_type() for p in msg.walk()]
assert parts[0].get_payload(decode=True) == open(sys.argv[2], 'rb').read()
EOF2
stop_pid "$SINK_PID" 3
ctl vm mailbox 1002 --no-email >/dev/null

# ------------------------------------------------------------------ *97: listening by phone
ctl ext dnd 1001 on >/dev/null
ctl vm mailbox 1001 --unsolicited-mwi on >/dev/null
settings_barrier
leave "for 1001" C 1001 3
check "for 1001: the message row appears" wait_for 20 msgs_at_least 1001 1
check_message "for 1001" 1001 1003 1700 2500 6500
check "for 1001: message waiting counts 1 new" wait_for 5 log_has "mwi: mailbox 1001 now 1 new, 0 old"
ctl ext dnd 1001 off >/dev/null
settings_barrier
file1001=$(field "$(last_msg 1001)" 4)
phone_mark A
dial A '*97'
check "*97: the PBX answers A" phone_wait A CALL_ESTABLISHED 8
check "*97: pbxd opens the menu of 1001" wait_for 5 log_has "1001 opens voicemail of 1001"
phone_dtmf A '1001#'
check "*97: the PIN is accepted" wait_for 10 log_has "1001 logged in to mailbox 1001"
phone_dtmf A '1'
hears_1700() { local f; f=$(phone_recording A) && band_above "$f" 1700 0.1 0 >/dev/null 2>&1; }
check "*97: A hears the message (C's 1700 Hz tone)" wait_for 20 hears_1700
phone_dtmf A '7'
check "*97: 7 deletes the message (row gone)" wait_for 10 eval "[ \$(msg_count 1001) = 0 ]"
check "*97: ... and its file" wait_for 5 eval "[ ! -e '$SPOOL/$file1001' ]"
check "*97: message waiting counts fall to 0" wait_for 5 log_has "mwi: mailbox 1001 now 0 new, 0 old"
phone_hangup A
check "*97: A's call closed" phone_wait A CALL_CLOSED 5
check "*97: A's phone got the lamp NOTIFYs (unsolicited): 1/0 then 0/0" \
	eval "grep -q 'Voice-Message: 1/0' \"$PHONES_DIR/A/log\" && grep -q 'Voice-Message: 0/0' \"$PHONES_DIR/A/log\""

# ------------------------------------------------------------------ *97: the owner records a busy greeting
phone_mark A
dial A '*97'
check "greeting: the PBX answers A" phone_wait A CALL_ESTABLISHED 8
phone_dtmf A '1001#'
check "greeting: the PIN is accepted" wait_for 10 eval "[ \$(log_count '1001 logged in to mailbox 1001') -ge 2 ]"
# 0 options, 2 busy greeting (typed ahead; repeated when a prompt swallowed it)
rec_greeting() {
	local k
	for k in 1 2 3; do
		phone_dtmf A '02'
		wait_for 6 log_has "recording the busy greeting of 1001" && return 0
	done
	return 1
}
check "greeting: 0 2 starts recording the busy greeting" rec_greeting
end=$(( $(now_ms) + 2500 )); while [ "$(now_ms)" -lt "$end" ]; do sleep 0.1; done
phone_dtmf A '#'
check "greeting: # ends it and it is stored" wait_for 10 log_has "greeting 1 of 1001 stored"
is "greeting: the mailbox points at it" "$(sq "SELECT greeting_busy FROM mailboxes WHERE number = '1001';")" \
	"1001/greeting-busy.opus"
phone_hangup A
check "greeting: A's call closed" phone_wait A CALL_CLOSED 5
ctl ext dnd 1001 on >/dev/null
settings_barrier
phone_mark C
dial C 1001
check "greeting: C reaches the busy mailbox of 1001" phone_wait C CALL_ESTABLISHED 8
check "greeting: C records 3 s" phone_wait_audio C 3 10
check "greeting: C hears A's recorded greeting (440 Hz)" eval 'band_above "$(phone_recording C)" 440 0.1 0'
phone_hangup C
check "greeting: C's call closed" phone_wait C CALL_CLOSED 5
ctl ext dnd 1001 off >/dev/null
settings_barrier

# ------------------------------------------------------------------ a spool that cannot take it
stored=$(sq "SELECT file FROM vm_messages ORDER BY id;")
sums_before=$(cd "$SPOOL" && md5sum $stored)
pbx_stop
TINY=$WORK/tiny
mkdir -p "$TINY"
if mount -t tmpfs -o size=4m tmpfs "$TINY" 2>/dev/null; then
	cp -a "$SPOOL"/. "$TINY"/
	# fill it up (dd stops at ENOSPC)
	dd if=/dev/zero of="$TINY/filler" bs=4k count=2000 2>/dev/null
	SPOOL_SAVE=$SPOOL
	SPOOL=$TINY
	if pbx_start; then
		ok "pbxd starts on a full spool"
		n0=$(sq "SELECT count(*) FROM vm_messages;")
		phone_mark A
		dial A 1002
		check "full spool: the PBX answers A" phone_wait A CALL_ESTABLISHED 12
		check "full spool: pbxd says why" wait_for 5 log_has "voicemail of 1002 unavailable: No space left on device"
		check "full spool: the PBX hangs up after 'mailbox unavailable'" phone_wait A CALL_CLOSED 15
		is "full spool: no row is added" "$(sq "SELECT count(*) FROM vm_messages;")" "$n0"
		pbx_stop
	else
		not_ok "pbxd starts on a full spool"
	fi
	rm -f "$TINY/filler"
	mount -o remount,ro "$TINY"
	if pbx_start; then
		n0=$(sq "SELECT count(*) FROM vm_messages;")
		phone_mark A
		dial A 1002
		check "read-only spool: pbxd says why" wait_for 15 log_has "voicemail of 1002 unavailable: Read-only file system"
		check "read-only spool: the PBX hangs up" phone_wait A CALL_CLOSED 15
		is "read-only spool: no row is added" "$(sq "SELECT count(*) FROM vm_messages;")" "$n0"
		pbx_stop
	fi
	sums_tiny=$(cd "$TINY" && md5sum $stored)
	is "the messages stored before are untouched on the tiny spool" "$sums_tiny" "$sums_before"
	umount "$TINY"
	SPOOL=$SPOOL_SAVE
else
	skip "full spool" "cannot mount a tmpfs here"
fi
sums_after=$(cd "$SPOOL" && md5sum $stored)
is "the messages stored before are untouched" "$sums_after" "$sums_before"
first=$(sed -n 1p <<<"$stored")
check "the first message still decodes" decode_wav "$SPOOL/$first" "$WORK/first.wav"
# ------------------------------------------------------------------ *98 with wrong PINs
# Last: three wrong PINs count as failed authentications, and with
# ban_limit 3 the phones' address (all of them: loopback) is banned.
ctl setting set ban_limit 3 >/dev/null
if pbx_start; then
	check "A registers again" eval 'reg_wait 1001 . 1'
	phone_mark A
	dial A '*98'
	check "*98: the PBX answers A" phone_wait A CALL_ESTABLISHED 8
	# *98 asks for the mailbox again after a wrong PIN; digits typed while
	# "wrong PIN" still plays may be dropped, so an attempt is repeated
	# (at most 4 times) until pbxd has counted it
	wrong_pin() { # N
		local k
		for k in 1 2 3 4; do
			phone_dtmf A '1002#0000#'
			wait_for 5 eval "[ \$(log_count 'wrong voicemail PIN from 1001') -ge $1 ]" && return 0
		done
		return 1
	}
	for i in 1 2 3; do
		check "*98: wrong PIN $i is refused" wrong_pin $i
	done
	check "*98: after three, pbxd hangs up" phone_wait A CALL_CLOSED 20
	check "*98: the source is banned like failed SIP authentication" log_has "banned after wrong voicemail PINs"
	check "*98: the mailbox was never opened" eval "! log_has 'logged in to mailbox 1002'"
else
	not_ok "pbxd starts again"
fi

t_done
