#!/bin/bash
# t_phone_selftest.sh: proves the softphone harness (phone.sh, audio.sh,
# baresip_ctl.py) on direct baresip-to-baresip calls, without pbxd: with
# PCMU, Opus and SRTP each side hears the other's tone and not its own, RFC
# 4733 digits arrive in order, a hang-up from either side closes both ends, a
# blind transfer moves the call, hold and resume send the right directions,
# and a wait for an event that never comes fails.
. "$(dirname "$0")/lib.sh"
. "$SIPDIR/phone.sh"

for tool in baresip sox python3; do
	if ! command -v "$tool" >/dev/null; then
		skip "softphone harness" "$tool not installed (Debian baresip-core, sox)"
		echo "1..$T_N"
		exit 0
	fi
done

# wav_format FILE: "RATE CHANNELS" of a recording
wav_format() { echo "$(soxi -r "$1" 2>/dev/null) $(soxi -c "$1" 2>/dev/null)"; }

# call_check LABEL CALLER CALLEE HANGER CALLER_HZ CALLEE_HZ RATE_CH [DIGITS]: CALLER
# dials CALLEE directly, both record 2 s, CALLER sends DIGITS, HANGER hangs up;
# then both ends closed, each heard the other and not itself, at RATE_CH.
call_check() {
	local label=$1 a=$2 b=$3 h=$4 fa=$5 fb=$6 fmt=$7 digits=${8:-} other
	phone_mark "$a"; phone_mark "$b"
	phone_dial "$a" "$(phone_uri "$b")"
	check "$label: $a reports CALL_ESTABLISHED" phone_wait "$a" CALL_ESTABLISHED 5
	check "$label: $b reports CALL_ESTABLISHED" phone_wait "$b" CALL_ESTABLISHED 5
	check "$label: $a and $b record 2 s of audio" \
		eval "phone_wait_audio $a 2 && phone_wait_audio $b 2"
	if [ -n "$digits" ]; then
		phone_dtmf "$a" "$digits"
		check "$label: $b reports ${#digits} CALL_DTMF_END" phone_wait "$b" CALL_DTMF_END 3 "${#digits}"
		is "$label: $b received the digits in order" "$(phone_dtmf_received "$b")" "$digits"
	fi
	phone_hangup "$h"
	if [ "$h" = "$a" ]; then other=$b; else other=$a; fi
	check "$label: hang-up by $h closes $h" phone_wait "$h" CALL_CLOSED 5
	check "$label: hang-up by $h closes $other" phone_wait "$other" CALL_CLOSED 5
	is "$label: $other is told the peer hung up" \
		"$(phone_field "$other" CALL_CLOSED param | head -1)" "Connection reset by peer"
	is "$label: $b's recording is $fmt (rate, channels)" "$(wav_format "$(phone_recording "$b")")" "$fmt"
	check "$label: $b hears $a ($fa Hz)" assert_hears "$b" "$fa"
	check "$label: $b does not hear itself ($fb Hz)" assert_not_hears "$b" "$fb"
	check "$label: $a hears $b ($fb Hz)" assert_hears "$a" "$fb"
	check "$label: $a does not hear itself ($fa Hz)" assert_not_hears "$a" "$fa"
}

T0=$(now_ms)

# --- G.711 mu-law, caller hangs up, DTMF caller -> callee
check "phone A (PCMU, 440 Hz) starts" phone_start A 1001 - - PCMU 440
check "phone B (PCMU, 1000 Hz) starts" phone_start B 1002 - - PCMU 1000
call_check PCMU A B A 440 1000 "8000 1" '123#'

# a wait that cannot succeed fails within its bound
phone_mark A
t=$(now_ms)
if phone_wait A CALL_INCOMING 1 2>/dev/null; then
	not_ok "phone_wait for an event that never comes fails"
else
	ok "phone_wait for an event that never comes fails"
fi
check "... after its 1 s bound" test $(( $(now_ms) - t )) -lt 2500

# --- transfer: A calls B, B transfers A blind to C; A and C then talk
check "phone C (PCMU, 1700 Hz) starts" phone_start C 1003 - - PCMU 1700
phone_mark A; phone_mark B; phone_mark C
phone_dial A "$(phone_uri B)"
if phone_wait A CALL_ESTABLISHED 5 && phone_wait B CALL_ESTABLISHED 5; then
	phone_mark A
	phone_transfer B "$(phone_uri C)"
	check "transfer: A reports TRANSFER" phone_wait A TRANSFER 5
	is "transfer: ... to C" "$(phone_field A TRANSFER param)" "$(phone_uri C)"
	check "transfer: B's call closes" phone_wait B CALL_CLOSED 5
	check "transfer: C reports CALL_ESTABLISHED" phone_wait C CALL_ESTABLISHED 5
	check "transfer: C records 1.5 s" phone_wait_audio C 1.5
	phone_hangup C
	check "transfer: A's new call closes" phone_wait A CALL_CLOSED 5 2
	check "transfer: C hears A (440 Hz)" assert_hears C 440
	check "transfer: C does not hear B (1000 Hz)" assert_not_hears C 1000
else
	not_ok "transfer: A calls B"
fi

check "phone A stops on /quit" phone_stop A
check "phone B stops on /quit" phone_stop B
check "phone C stops on /quit" phone_stop C

# --- Opus 48 kHz, callee calls back, callee hangs up
check "phone D (opus, 440 Hz) starts" phone_start D 1004 - - opus/48000/2 440
check "phone E (opus, 1000 Hz) starts" phone_start E 1005 - - opus/48000/2 1000
call_check Opus D E E 440 1000 "48000 2"

# --- hold and resume: the re-INVITEs carry the directions
phone_mark D; phone_mark E
phone_dial D "$(phone_uri E)"
if phone_wait D CALL_ESTABLISHED 5 && phone_wait E CALL_ESTABLISHED 5; then
	phone_mark D; phone_mark E
	phone_hold D
	check "hold: E gets the re-INVITE (CALL_REMOTE_SDP offer)" phone_wait E CALL_REMOTE_SDP 5
	check "hold: D gets the answer" phone_wait D CALL_REMOTE_SDP 5
	check "hold: E was offered a=sendonly and answered a=recvonly" \
		eval "phone_log E | grep -q '^a=sendonly' && phone_log E | grep -q '^a=recvonly'"
	phone_mark D; phone_mark E
	phone_resume D
	check "resume: E gets the re-INVITE" phone_wait E CALL_REMOTE_SDP 5
	check "resume: D gets the answer" phone_wait D CALL_REMOTE_SDP 5
	check "resume: the offer is a=sendrecv" \
		eval "phone_log E | grep -q '^a=sendrecv' && ! phone_log E | grep -q '^a=sendonly'"
	phone_hangup D
	check "hold: the call closes" phone_wait E CALL_CLOSED 5
else
	not_ok "hold: D calls E"
fi

# --- SRTP (SDES, RTP/SAVP) with PCMA
check "phone F (PCMA, SRTP, 440 Hz) starts" phone_start F 1006 - - PCMA 440 mediaenc=srtp-mand
check "phone G (PCMA, SRTP, 1000 Hz) starts" phone_start G 1007 - - PCMA 1000 mediaenc=srtp-mand
call_check SRTP F G G 440 1000 "8000 1" '*0'
check "SRTP: F reports the crypto suite (CALL_MENC)" \
	eval "phone_field F CALL_MENC param | grep -q AES_CM_128_HMAC_SHA1_80"
check "SRTP: F offered RTP/SAVP" grep -q '^m=audio [0-9]* RTP/SAVP' "$PHONES_DIR/F/log"

diag "harness self-test took $(( ($(now_ms) - T0) / 1000 )) s"
phones_cleanup
t_done
