#!/bin/bash
# t_call_audio.sh: calls between extensions through pbxd with real softphones
# (baresip, tests/sip/phone.sh). Each phone plays its own tone; a call passes
# when each side's recording holds the other's tone and not its own:
#   PCMU<->PCMU, PCMA->PCMU and PCMU->PCMA (transcoded), Opus<->Opus,
#   Opus->PCMU and PCMU->Opus (transcoded), SRTP (RTP/SAVP, srtp-mand) to a
#   plain phone and a plain phone to an extension that requires SRTP.
# RFC 4733 digits 1 2 3 # arrive in order across a same-codec call and across
# transcoded ones. Each call's CDR row (found by the caller's Call-ID) shows
# caller, callee, disposition answered, who hung up, the codec of each leg,
# packets both ways on both legs and SRTP per leg. *43 echoes the caller's own
# tone. Hold and resume: the callee gets re-INVITEs with a=sendonly/inactive,
# then a=sendrecv, and the call stays up until hung up.
. "$(dirname "$0")/lib.sh"
. "$SIPDIR/phone.sh"

for tool in baresip sox soxi python3 sqlite3; do
	if ! command -v "$tool" >/dev/null; then
		skip "calls with audio through pbxd" "$tool not installed (Debian baresip-core, sox, sqlite3)"
		echo "1..$T_N"
		exit 0
	fi
done
require_pbx
T0=$(now_ms)

provision_range 1000 1009
# Debian's baresip 1.0 gives up on SHA-256 challenges (see t_baresip.sh)
ctl setting set auth_algorithms MD5 >/dev/null
# 1006 is the SRTP phone: pbxd must offer it RTP/SAVP when it is called
check "pbxctl: 1006 requires SRTP" eval "ctl ext set 1006 --require-srtp on >/dev/null"
if ! pbx_start; then not_ok "pbxd starts and answers /healthz"; t_done; fi
ok "pbxd starts and answers /healthz"

PBX=127.0.0.1:$SIP_PORT
# Tones kept clear of each other and of the DTMF frequencies (697..1633 Hz)
HZ_A=440 HZ_B=1000 HZ_C=1700 HZ_D=550 HZ_E=2300 HZ_F=2600
phone_start A 1001 pw1001 "$PBX" PCMU "$HZ_A" &&
phone_start B 1002 pw1002 "$PBX" PCMU "$HZ_B" &&
phone_start C 1003 pw1003 "$PBX" PCMA "$HZ_C" &&
phone_start D 1004 pw1004 "$PBX" opus/48000/2 "$HZ_D" &&
phone_start E 1005 pw1005 "$PBX" opus/48000/2 "$HZ_E" &&
phone_start F 1006 pw1006 "$PBX" PCMU "$HZ_F" mediaenc=srtp-mand
check "six baresip phones start" test $? = 0
for p in A B C D E F; do
	check "phone $p registers to pbxd (REGISTER_OK)" phone_wait "$p" REGISTER_OK 10
done

# ------------------------------------------------------------------ helpers

sql() { sqlite3 -cmd '.timeout 3000' "$DB" "$@"; }

# cdr_row CALL_ID: the row of that call, '|'-separated (see the select)
cdr_row() {
	sql "select disposition, hangup_by, caller, callee, a_codec, b_codec,
		a_rx_packets, a_tx_packets, b_rx_packets, b_tx_packets, srtp_a, srtp_b
		from cdr where call_id = '${1//\'/\'\'}'" 2>/dev/null
}
cdr_present() { [ -n "$(cdr_row "$1")" ]; }

# wav_format FILE: "RATE CHANNELS" of a recording
wav_format() { echo "$(soxi -r "$1" 2>/dev/null) $(soxi -c "$1" 2>/dev/null)"; }
rec_format() {
	local f
	f=$(phone_recording "$1" 2>/dev/null) || { echo "no recording"; return; }
	wav_format "$f"
}
fmt_of() { case $1 in opus*) echo "48000 2" ;; *) echo "8000 1" ;; esac; }
upper() { tr '[:lower:]' '[:upper:]'; }

# check_cdr LABEL CALL_ID CALLER CALLEE HUNG_UP_BY A_CODEC B_CODEC SRTP_A SRTP_B
check_cdr() {
	local label=$1 cid=$2 row f
	if [ -z "$cid" ]; then
		not_ok "$label: CDR row (no Call-ID of the caller's call)"
		return
	fi
	if ! wait_for 10 cdr_present "$cid"; then
		not_ok "$label: CDR row for Call-ID $cid written within 10 s of the hang-up"
		diag "newest cdr rows:"; diag "$(sql 'select * from cdr order by id desc limit 3' 2>&1)"
		return
	fi
	ok "$label: CDR row written"
	row=$(cdr_row "$cid")
	diag "$label: cdr disposition|hangup_by|caller|callee|a_codec|b_codec|a_rx|a_tx|b_rx|b_tx|srtp_a|srtp_b"
	diag "$label: cdr $row"
	IFS='|' read -r -a f <<<"$row"
	is "$label: CDR disposition" "${f[0]}" answered
	is "$label: CDR hung up by" "${f[1]}" "$5"
	is "$label: CDR caller, callee" "${f[2]} ${f[3]}" "$3 $4"
	is "$label: CDR codec of leg a, leg b" "$(echo "${f[4]} ${f[5]}" | upper)" "$(echo "$6 $7" | upper)"
	check "$label: CDR packets > 0 (a rx ${f[6]}, a tx ${f[7]}, b rx ${f[8]}, b tx ${f[9]})" \
		test "${f[6]:-0}" -gt 0 -a "${f[7]:-0}" -gt 0 -a "${f[8]:-0}" -gt 0 -a "${f[9]:-0}" -gt 0
	is "$label: CDR srtp_a, srtp_b" "${f[10]} ${f[11]}" "$8 $9"
}

# sdp_trace NAME: one line per SIP message with an audio SDP in NAME's trace
# since the mark: "FROM->TO START CSEQ-METHOD PROTO DIRECTION", e.g.
# "127.0.0.1:5060->127.0.0.1:15064 INVITE INVITE RTP/AVP sendonly" (received
# from pbxd) or "127.0.0.1:15064->127.0.0.1:5060 200 INVITE RTP/AVP recvonly"
# (its answer); DIRECTION "-" when the SDP names none
sdp_trace() {
	phone_log "$1" | awk '
		function flush() { if (hop != "" && proto != "") print hop, start, cseq, proto, (dir == "" ? "-" : dir); hop = "" }
		{ sub(/\r$/, "") }
		/^(UDP|TCP|TLS) [^ ]+ -> [^ ]+$/ { flush(); hop = $2 "->" $4; start = ""; cseq = ""; proto = ""; dir = ""; next }
		hop == "" { next }
		start == "" && /^SIP\/2\.0 [0-9]+/ { start = $2; next }
		start == "" && /^[A-Z]+ / { start = $1; next }
		/^CSeq:/ { cseq = $3 }
		/^m=audio / { proto = $3 }
		/^a=(sendrecv|sendonly|recvonly|inactive)$/ { dir = substr($0, 3) }
		END { flush() }'
}
PBX_HOP=127.0.0.1:$SIP_PORT
# sdp_of NAME FROM_PBX(1|0) START proto|dir: that field of the last INVITE (START
# INVITE) or answer to one (START 200) pbxd sent to NAME (1) or NAME sent to pbxd
# (0) since the mark; "none" when there is no such message
sdp_of() {
	local hop_re col=5
	if [ "$2" = 1 ]; then hop_re="^$PBX_HOP->"; else hop_re="->$PBX_HOP\$"; fi
	[ "$4" = proto ] && col=4
	sdp_trace "$1" | awk -v h="$hop_re" -v s="$3" -v c="$col" '$1 ~ h && $2 == s && $3 == "INVITE" {d = $c}
		END {print d == "" ? "none" : d}'
}
# is_one_of VALUE WORD...: VALUE is one of the words
is_one_of() { local v=$1 w; shift; for w; do [ "$v" = "$w" ] && return 0; done; return 1; }

# call_case LABEL CALLER CALLEE EXT HANGER A_CODEC B_CODEC SRTP_A SRTP_B [DIGITS]:
# CALLER dials extension EXT (phone CALLEE) through pbxd; both record 2.5 s,
# CALLER sends DIGITS, HANGER (caller|callee) hangs up; then each heard the
# other and not itself, and the CDR row says what happened.
CASE_CID=""
call_case() {
	local label=$1 a=$2 b=$3 ext=$4 hanger=$5 ca=$6 cb=$7 sa=$8 sb=$9 digits=${10:-}
	local fa fb h other cid na nb
	eval "fa=\$HZ_$a fb=\$HZ_$b"
	na=$(_ph_get "$a" ext); nb=$(_ph_get "$b" ext)
	if ! pbx_alive; then
		not_ok "$label: pbxd is running (it is not: no call tried)"
		return 1
	fi
	phone_mark "$a"; phone_mark "$b"
	CASE_CID=""
	phone_dial "$a" "$ext"
	if ! phone_wait "$a" CALL_ESTABLISHED 8 || ! phone_wait "$b" CALL_ESTABLISHED 2; then
		not_ok "$label: $a ($na) calls $ext and both report CALL_ESTABLISHED"
		diag "pbxd log tail:"; diag "$(tail -15 "$PBX_LOG")"
		phone_hangup "$a"; phone_hangup "$b"
		sleep 1
		return 1
	fi
	ok "$label: $a ($na) calls $ext and both report CALL_ESTABLISHED"
	cid=$(phone_field "$a" CALL_ESTABLISHED id | head -1)
	CASE_CID=$cid
	check "$label: $a and $b record 2.5 s of audio" \
		eval "phone_wait_audio $a 2.5 && phone_wait_audio $b 2.5"
	if [ -n "$digits" ]; then
		phone_dtmf "$a" "$digits"
		check "$label: $b reports ${#digits} CALL_DTMF_END" phone_wait "$b" CALL_DTMF_END 5 "${#digits}"
		is "$label: $b received the digits in order" "$(phone_dtmf_received "$b")" "$digits"
	fi
	if [ "$hanger" = caller ]; then h=$a other=$b; else h=$b other=$a; fi
	phone_hangup "$h"
	check "$label: hang-up by $h closes $h" phone_wait "$h" CALL_CLOSED 5
	check "$label: hang-up by $h closes $other" phone_wait "$other" CALL_CLOSED 5
	is "$label: $a's recording is $(fmt_of "$ca") (rate, channels)" "$(rec_format "$a")" "$(fmt_of "$ca")"
	is "$label: $b's recording is $(fmt_of "$cb") (rate, channels)" "$(rec_format "$b")" "$(fmt_of "$cb")"
	# 0.5 s to 2.5 s: the call's first seconds, before any digit
	check "$label: $b hears $a ($fa Hz)" assert_hears "$b" "$fa" 0.5 2
	check "$label: $b does not hear itself ($fb Hz)" assert_not_hears "$b" "$fb" 0.5 2
	check "$label: $a hears $b ($fb Hz)" assert_hears "$a" "$fb" 0.5 2
	check "$label: $a does not hear itself ($fa Hz)" assert_not_hears "$a" "$fa" 0.5 2
	check_cdr "$label" "$cid" "$na" "$nb" "$hanger" "$ca" "$cb" "$sa" "$sb"
	return 0
}

# ------------------------------------------------------------------ codecs

call_case "PCMU<->PCMU" A B 1002 caller PCMU PCMU 0 0 '123#'
call_case "PCMA->PCMU (transcoded)" C B 1002 callee PCMA PCMU 0 0 '123#'
call_case "PCMU->PCMA (transcoded)" B C 1003 caller PCMU PCMA 0 0
call_case "Opus<->Opus" D E 1005 caller opus opus 0 0
call_case "Opus->PCMU (transcoded)" D B 1002 callee opus PCMU 0 0 '123#'
call_case "PCMU->Opus (transcoded)" A E 1005 caller PCMU opus 0 0

# ------------------------------------------------------------------ SRTP

# the checks on the SDP of a call only when that call took place (phone_log reads since its mark)
if call_case "SRTP->plain" F B 1002 caller PCMU PCMU 1 0; then
	check "SRTP->plain: F reports the crypto suite (CALL_MENC)" \
		eval "phone_field F CALL_MENC param | grep -q AES_CM_128_HMAC_SHA1_80"
	is "SRTP->plain: pbxd answers F's RTP/SAVP offer with RTP/SAVP" "$(sdp_of F 1 200 proto)" RTP/SAVP
	is "SRTP->plain: pbxd offers B plain RTP/AVP" "$(sdp_of B 1 INVITE proto)" RTP/AVP
fi

if call_case "plain->SRTP (1006 requires SRTP)" B F 1006 callee PCMU PCMU 0 1; then
	check "plain->SRTP: F reports the crypto suite (CALL_MENC)" \
		eval "phone_field F CALL_MENC param | grep -q AES_CM_128_HMAC_SHA1_80"
	is "plain->SRTP: pbxd offers B's plain call to 1006 as RTP/SAVP" "$(sdp_of F 1 INVITE proto)" RTP/SAVP
	is "plain->SRTP: pbxd answers B with plain RTP/AVP" "$(sdp_of B 1 200 proto)" RTP/AVP
fi

# ------------------------------------------------------------------ *43 echo

phone_mark A
phone_dial A '*43'
if phone_wait A CALL_ESTABLISHED 8; then
	ok "echo: *43 is answered"
	check "echo: A records 3 s" phone_wait_audio A 3
	phone_hangup A
	check "echo: A's call closes" phone_wait A CALL_CLOSED 5
	check "echo: A hears its own tone back ($HZ_A Hz)" assert_hears A "$HZ_A" 1 2
	check "echo: ... and nobody else's ($HZ_B Hz)" assert_not_hears A "$HZ_B" 1 2
else
	not_ok "echo: *43 is answered"
	diag "pbxd log tail:"; diag "$(tail -15 "$PBX_LOG")"
	phone_hangup A
fi

# ------------------------------------------------------------------ hold and resume

phone_mark A; phone_mark B
phone_dial A 1002
if phone_wait A CALL_ESTABLISHED 8 && phone_wait B CALL_ESTABLISHED 2; then
	ok "hold: A calls 1002, both report CALL_ESTABLISHED"
	hold_cid=$(phone_field A CALL_ESTABLISHED id | head -1)
	check "hold: audio flows before the hold" eval "phone_wait_audio A 1.5 && phone_wait_audio B 1.5"
	phone_mark A; phone_mark B
	phone_hold A
	check "hold: A gets pbxd's answer to its re-INVITE" phone_wait A CALL_REMOTE_SDP 5
	check "hold: B gets a re-INVITE from pbxd (CALL_REMOTE_SDP)" phone_wait B CALL_REMOTE_SDP 5
	diag "hold: SDP directions in B's trace:"; diag "$(sdp_trace B)"
	diag "hold: SDP directions in A's trace:"; diag "$(sdp_trace A)"
	d=$(sdp_of B 1 INVITE dir)
	check "hold: pbxd's re-INVITE to B carries a=sendonly or a=inactive (got $d)" is_one_of "$d" sendonly inactive
	d=$(sdp_of B 0 200 dir)
	check "hold: B answers 200 with a=recvonly or a=inactive (got $d)" is_one_of "$d" recvonly inactive
	d=$(sdp_of A 1 200 dir)
	check "hold: pbxd answers A's hold with a=recvonly or a=inactive (got $d)" is_one_of "$d" recvonly inactive
	sleep 1
	phone_mark A; phone_mark B
	phone_resume A
	check "resume: A gets pbxd's answer" phone_wait A CALL_REMOTE_SDP 5
	check "resume: B gets a re-INVITE from pbxd" phone_wait B CALL_REMOTE_SDP 5
	diag "resume: SDP directions in B's trace:"; diag "$(sdp_trace B)"
	diag "resume: SDP directions in A's trace:"; diag "$(sdp_trace A)"
	d=$(sdp_of B 1 INVITE dir)
	is "resume: pbxd's re-INVITE to B carries a=sendrecv" "$d" sendrecv
	d=$(sdp_of B 0 200 dir)
	is "resume: B answers 200 with a=sendrecv" "$d" sendrecv
	d=$(sdp_of A 1 200 dir)
	is "resume: pbxd answers A's resume with a=sendrecv" "$d" sendrecv
	sleep 1
	check "resume: the call is still up on both phones (no CALL_CLOSED)" \
		eval "[ \$(phone_count A CALL_CLOSED) = 0 ] && [ \$(phone_count B CALL_CLOSED) = 0 ]"
	phone_hangup A
	check "hold: hang-up closes A" phone_wait A CALL_CLOSED 5
	check "hold: hang-up closes B" phone_wait B CALL_CLOSED 5
	is "hold: B is told the peer hung up" "$(phone_field B CALL_CLOSED param | head -1)" "Connection reset by peer"
	if [ -n "$hold_cid" ] && wait_for 10 cdr_present "$hold_cid"; then
		row=$(cdr_row "$hold_cid")
		diag "hold: cdr: $row"
		is "hold: CDR disposition, hung up by" "$(echo "$row" | cut -d'|' -f1,2)" "answered|caller"
	else
		not_ok "hold: CDR row written within 10 s"
	fi
else
	not_ok "hold: A calls 1002, both report CALL_ESTABLISHED"
	phone_hangup A
fi

check "pbxd still running" pbx_alive
diag "t_call_audio took $(( ($(now_ms) - T0) / 1000 )) s"
phones_cleanup
t_done
