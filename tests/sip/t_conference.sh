#!/bin/bash
# t_conference.sh: conference rooms through pbxd with real softphones
# (baresip, tests/sip/phone.sh). Each phone plays its own sine at -6 dBFS
# (volume 0.5); what each one heard is measured band by band.
#
#   open room 7000: A (Opus 48 kHz stereo), B (PCMU) and C (PCMA) join; every
#     recording holds the two other tones, and its own at least 40 dB below
#     the weaker of them (20*log10(other/own) printed per phone). After *6
#     from B its tone is gone from A's and C's recordings (40 dB below the
#     tone still heard), and back after *6 again.
#   PIN room 7001 (PIN 1234): three wrong PINs and pbxd hangs up (BYE) within
#     a bound, after the "wrong PIN, goodbye" prompts; the right PIN joins
#     (D hears B and B hears D; before its PIN, D heard nobody).
#   room 7002 with --max 2: a third caller is answered, hears the "room
#     full" prompt and nobody in the room, and is hung up.
#   room 7003 (PIN 1111, moderator PIN 2222): the moderator's *1 locks it (a
#     new caller with the right PIN is refused); *1 again unlocks it (the
#     same caller joins); *1 from a participant who is no moderator does not
#     lock it.
#   Every conference call leaves a CDR row with dialed = the room number and
#     disposition answered; pbxd's own hang-ups say hangup_by system.
#
# Windows are measured in each phone's recording time: the seconds its
# recording holds at the moment of the event (rec_pos), so prompts played on
# joining and the moment of a *6 stay out of the window.
. "$(dirname "$0")/lib.sh"
. "$SIPDIR/phone.sh"

for tool in baresip sox soxi python3 sqlite3; do
	if ! command -v "$tool" >/dev/null; then
		skip "conference rooms with audio through pbxd" "$tool not installed (Debian baresip-core, sox, sqlite3)"
		echo "1..$T_N"
		exit 0
	fi
done
require_pbx
T0=$(now_ms)

# The spoken prompts (make builds them into build/prompts). Without them
# pbxd still asks, refuses and hangs up, at once: the checks that a prompt
# was heard before the hang-up are then skipped.
PROMPTS=${PROMPTS:-$ROOT/build/prompts}
HAVE_PROMPTS=0
if "$PBXD" --help 2>&1 | grep -q -- '--prompts'; then
	if [ -f "$PROMPTS/conf_full.wav" ]; then
		PBX_ARGS+=(--prompts "$PROMPTS")
		HAVE_PROMPTS=1
	else
		diag "no prompts in $PROMPTS (run make): the prompt checks are skipped"
	fi
else
	diag "$PBXD has no --prompts option: the prompt checks are skipped"
fi
# prompt_s NAME...: seconds the named prompts play, one after the other
prompt_s() {
	local n t=0 d
	for n; do
		d=$(soxi -D "$PROMPTS/$n.wav" 2>/dev/null) || d=0
		t=$(awk -v a="$t" -v b="$d" 'BEGIN{print a + b}')
	done
	echo "$t"
}

provision_range 1000 1009
# Debian's baresip 1.0 gives up on SHA-256 challenges (see t_baresip.sh)
ctl setting set auth_algorithms MD5 >/dev/null
check "pbxctl: room 7000 (open)" eval "ctl room add 7000 --name open >/dev/null"
check "pbxctl: room 7001 (PIN 1234)" eval "ctl room add 7001 --name pin --pin 1234 >/dev/null"
check "pbxctl: room 7002 (at most 2)" eval "ctl room add 7002 --name small --max 2 >/dev/null"
check "pbxctl: room 7003 (PIN 1111, moderator PIN 2222)" \
	eval "ctl room add 7003 --name moderated --pin 1111 --moderator-pin 2222 >/dev/null"
diag "room list:" "$(ctl room list 2>&1)"
if ! pbx_start; then not_ok "pbxd starts and answers /healthz"; t_done; fi
ok "pbxd starts and answers /healthz"
if [ "$HAVE_PROMPTS" = 1 ] && ! grep -q 'prompts from' "$PBX_LOG"; then
	diag "pbxd's log does not say it loaded the prompts of $PROMPTS: the prompt checks will tell"
fi

PBX=127.0.0.1:$SIP_PORT
# Tones far apart, clear of the DTMF frequencies (697..1633 Hz) and of each
# other's measuring band (±40 Hz), below G.711's 3.4 kHz
HZ_A=440 HZ_B=1900 HZ_C=2900 HZ_D=2400
TONE_S=120
for p in A B C D; do
	eval "hz=\$HZ_$p"
	make_tone "$hz" 48000 "$WORK/tone_$p.wav" "$TONE_S" 0.5 || not_ok "make_tone $hz Hz"
done
PHONE_TONE_SECONDS=$TONE_S
phone_start A 1001 pw1001 "$PBX" opus/48000/2 "$WORK/tone_A.wav" &&
phone_start B 1002 pw1002 "$PBX" PCMU "$WORK/tone_B.wav" &&
phone_start C 1003 pw1003 "$PBX" PCMA "$WORK/tone_C.wav" &&
phone_start D 1004 pw1004 "$PBX" PCMU "$WORK/tone_D.wav"
check "four baresip phones start (A Opus, B PCMU, C PCMA, D PCMU)" test $? = 0
for p in A B C D; do
	check "phone $p registers to pbxd (REGISTER_OK)" phone_wait "$p" REGISTER_OK 10
done

# ------------------------------------------------------------------ helpers

sql() { sqlite3 -cmd '.timeout 3000' "$DB" "$@"; }
ratio_db() { awk -v o="$1" -v w="$2" 'BEGIN{ if (w < 1e-7) w = 1e-7; if (o < 1e-7) o = 1e-7; printf "%.1f", 20 * log(o / w) / log(10) }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN{exit !(a >= b)}'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN{exit !(a < b)}'; }
min_of() { awk -v a="$1" -v b="$2" 'BEGIN{print (a < b ? a : b)}'; }

# rec_pos NAME: seconds NAME's current recording holds now
rec_pos() {
	local f
	f=$(phone_recording "$1" 2>/dev/null) || { echo 0; return 1; }
	wav_seconds "$f" 2>/dev/null || echo 0
}
# wait_pos NAME POS: wait (bounded) until NAME's recording holds POS seconds
wait_pos() { phone_wait_audio "$1" "$2" "$(awk -v p="$2" 'BEGIN{print p + 8}')"; }
# level NAME FREQ START LEN: the FREQ band of NAME's recording in that window
level() {
	local f
	f=$(phone_recording "$1") || { echo 0; return 1; }
	band_level "$f" "$2" "$3" "$4" || echo 0
}
# rms NAME: RMS of NAME's whole recording (any sound at all)
rms() {
	local f src v
	f=$(phone_recording "$1") || { echo 0; return 1; }
	src=$(_audio_readable "$f") || { echo 0; return 1; }
	v=$(timeout 20 sox "$src" -n remix 1 stat 2>&1 | awk '/RMS +amplitude/{print $3}')
	[ "$src" != "$f" ] && rm -f "$src"
	echo "${v:-0}"
}

# Conference calls for the CDR checks: "CALL-ID ROOM HANGUP_BY LABEL"
CONF_CALLS=()
# enter NAME ROOM [PIN] [HANGUP_BY]: NAME dials ROOM; once answered and audio
# flows, it keys PIN followed by #. HANGUP_BY: who the CDR should say hung up.
# ENTER_MS: wall clock (ms) of the answer, or of the end of the PIN when one was keyed.
ENTER_MS=0
enter() {
	local name=$1 room=$2 pin=${3:-} by=${4:-caller} cid
	phone_mark "$name"
	phone_dial "$name" "$room"
	if ! phone_wait "$name" CALL_ESTABLISHED 8; then
		not_ok "$name dials room $room: answered (CALL_ESTABLISHED)"
		diag "pbxd log tail:" "$(tail -15 "$PBX_LOG")"
		phone_hangup "$name"
		return 1
	fi
	ok "$name dials room $room: answered (CALL_ESTABLISHED)"
	ENTER_MS=$(now_ms)
	cid=$(phone_field "$name" CALL_ESTABLISHED id | head -1)
	CONF_CALLS+=("$cid $room $by $name->$room")
	if [ -n "$pin" ]; then
		# media up (the PIN prompt arrives) before the digits; bounded
		# short: pbxd gives the whole PIN 15 s from its prompt
		phone_wait_audio "$name" 0.3 2 >/dev/null 2>&1
		phone_dtmf "$name" "$pin#" || { not_ok "$name keys $pin#"; return 1; }
		ENTER_MS=$(now_ms)
	fi
	return 0
}
# leave NAME...: each hangs up, and its call closes
leave() {
	local n
	for n; do phone_hangup "$n"; done
	for n; do check "$n hangs up: its call closes" phone_wait "$n" CALL_CLOSED 5; done
}
# closed_by_pbx NAME: the call was closed by a BYE from pbxd, not by the phone
closed_by_pbx() {
	local why
	why=$(phone_field "$1" CALL_CLOSED param | head -1)
	[ "$why" = "Connection reset by peer" ] && return 0
	echo "# $1 CALL_CLOSED reason: '$why'" >&2
	return 1
}
# refused NAME ROOM LABEL T_MS PROMPTS...: pbxd hangs up NAME's call within 12 s,
# at least 80% of the PROMPTS' length after T_MS (when loaded: the refusal is heard), and
# NAME heard nobody in the room (A's and B's tones)
refused() {
	local name=$1 room=$2 label=$3 t_est=$4 t_end spent want lvl hz; shift 4
	if ! phone_wait "$name" CALL_CLOSED 12; then
		not_ok "$label: pbxd hangs up $name within 12 s"
		phone_hangup "$name"
		return 1
	fi
	t_end=$(now_ms)
	ok "$label: pbxd hangs up $name within 12 s"
	check "$label: the BYE came from pbxd" closed_by_pbx "$name"
	spent=$(awk -v a="$t_est" -v b="$t_end" 'BEGIN{printf "%.2f", (b - a) / 1000}')
	if [ "$HAVE_PROMPTS" = 1 ]; then
		want=$(awk -v p="$(prompt_s "$@")" 'BEGIN{printf "%.2f", p * 0.8}')
		check "$label: hung up only after the prompts ($*: ${spent}s from the answer/last digit, want >= ${want}s)" \
			ge "$spent" "$want"
		lvl=$(rms "$name")
		check "$label: $name heard the prompts (RMS $lvl > 0.01)" ge "$lvl" 0.01
	else
		skip "$label: hung up only after the prompts ($*)" "no prompts"
		skip "$label: $name heard the prompts" "no prompts"
	fi
	for hz in "$HZ_A" "$HZ_B"; do
		lvl=$(level "$name" "$hz" 0.3 "")
		check "$label: $name heard nobody in room $room ($hz Hz: $lvl < 0.02)" lt "$lvl" 0.02
	done
}

# ------------------------------------------------------------------ open room: mix-minus

diag "--- room 7000: A (Opus), B (PCMU), C (PCMA), all at -6 dBFS"
enter A 7000 && enter B 7000 && enter C 7000
OPEN_OK=$?
if [ $OPEN_OK = 0 ]; then
	# past the joining prompts (the longest: "you are the only participant")
	for p in A B C; do wait_pos "$p" "$(awk -v s="$(rec_pos "$p")" 'BEGIN{print s + 3}')" >/dev/null 2>&1; done
	declare -A POS LV
	for p in A B C; do POS[$p]=$(rec_pos "$p"); done
	for p in A B C; do
		check "7000: $p records 3 s more" wait_pos "$p" "$(awk -v s="${POS[$p]}" 'BEGIN{print s + 3}')"
	done
	diag "7000: band levels over 3 s of each recording (RMS; a tone at -6 dBFS measures about 0.35)"
	diag "$(printf '%-6s %-14s %10s %10s %10s %12s' phone codec "A ${HZ_A}Hz" "B ${HZ_B}Hz" "C ${HZ_C}Hz" "own down by")"
	for p in A B C; do
		for q in A B C; do
			eval "hz=\$HZ_$q"
			LV[$p$q]=$(level "$p" "$hz" "${POS[$p]}" 3)
		done
	done
	for p in A B C; do
		others=()
		for q in A B C; do [ "$q" != "$p" ] && others+=("$q"); done
		weaker=$(min_of "${LV[$p${others[0]}]}" "${LV[$p${others[1]}]}")
		down=$(ratio_db "$weaker" "${LV[$p$p]}")
		case $p in A) codec=opus/48000/2 ;; B) codec=PCMU ;; C) codec=PCMA ;; esac
		diag "$(printf '%-6s %-14s %10s %10s %10s %9s dB' "$p" "$codec" "${LV[${p}A]}" "${LV[${p}B]}" "${LV[${p}C]}" "$down")"
		for q in "${others[@]}"; do
			eval "hz=\$HZ_$q"
			check "7000: $p hears $q ($hz Hz: ${LV[$p$q]} > $PHONE_HEARS_MIN)" ge "${LV[$p$q]}" "$PHONE_HEARS_MIN"
		done
		eval "hz=\$HZ_$p"
		check "7000: $p's own tone ($hz Hz) is $down dB below the weaker other (want >= 40)" ge "$down" 40
	done

	# *6: B mutes itself; A and C stop hearing it (B hears the "muted" prompt)
	phone_dtmf B '*6'
	for p in A C; do POS[$p]=$(awk -v s="$(rec_pos "$p")" 'BEGIN{print s + 0.5}'); done
	for p in A C; do check "7000 mute: $p records 3 s after B's *6" wait_pos "$p" "$(awk -v s="${POS[$p]}" 'BEGIN{print s + 3}')"; done
	lab=$(level A "$HZ_B" "${POS[A]}" 3); lac=$(level A "$HZ_C" "${POS[A]}" 3)
	lcb=$(level C "$HZ_B" "${POS[C]}" 3); lca=$(level C "$HZ_A" "${POS[C]}" 3)
	diag "7000 after B's *6: A hears B $lab, C $lac ($(ratio_db "$lac" "$lab") dB); C hears B $lcb, A $lca ($(ratio_db "$lca" "$lcb") dB)"
	check "7000 mute: A still hears C ($lac)" ge "$lac" "$PHONE_HEARS_MIN"
	check "7000 mute: C still hears A ($lca)" ge "$lca" "$PHONE_HEARS_MIN"
	check "7000 mute: B's tone gone from A's recording ($lab, $(ratio_db "$lac" "$lab") dB below C's; want >= 40)" \
		ge "$(ratio_db "$lac" "$lab")" 40
	check "7000 mute: B's tone gone from C's recording ($lcb, $(ratio_db "$lca" "$lcb") dB below A's; want >= 40)" \
		ge "$(ratio_db "$lca" "$lcb")" 40

	# *6 again: B is heard again
	phone_dtmf B '*6'
	for p in A C; do POS[$p]=$(awk -v s="$(rec_pos "$p")" 'BEGIN{print s + 0.5}'); done
	for p in A C; do check "7000 unmute: $p records 2 s after B's second *6" wait_pos "$p" "$(awk -v s="${POS[$p]}" 'BEGIN{print s + 2}')"; done
	lab=$(level A "$HZ_B" "${POS[A]}" 2); lcb=$(level C "$HZ_B" "${POS[C]}" 2)
	check "7000 unmute: A hears B again ($lab)" ge "$lab" "$PHONE_HEARS_MIN"
	check "7000 unmute: C hears B again ($lcb)" ge "$lcb" "$PHONE_HEARS_MIN"
	leave A B C
else
	for p in A B C; do phone_hangup "$p"; done
	sleep 1
fi

# ------------------------------------------------------------------ PIN

diag "--- room 7001: PIN 1234"
if enter D 7001 "" system; then
	phone_dtmf D 9999#
	sleep 0.5
	phone_dtmf D 8888#
	sleep 0.5
	check "7001: after two wrong PINs the call is still up" test "$(phone_count D CALL_CLOSED)" = 0
	phone_dtmf D 7777#
	refused D 7001 "7001 third wrong PIN" "$(now_ms)" wrong_pin goodbye
fi

# the right PIN: B first, then D; D heard nobody before its PIN
if enter B 7001 1234; then
	phone_mark D
	phone_dial D 7001
	if phone_wait D CALL_ESTABLISHED 8; then
		ok "D dials room 7001 again: answered"
		CONF_CALLS+=("$(phone_field D CALL_ESTABLISHED id | head -1) 7001 caller D->7001")
		# what D hears before its PIN is the PIN prompt (when loaded)
		if phone_wait_audio D 2 4 >/dev/null 2>&1; then
			l=$(level D "$HZ_B" 0.3 "")
			check "7001: before its PIN, D does not hear B ($l < 0.02)" lt "$l" 0.02
		elif [ "$HAVE_PROMPTS" = 1 ]; then
			not_ok "7001: D hears the PIN prompt (2 s of audio within 4 s)"
		else
			skip "7001: before its PIN, D does not hear B" "no prompts: nothing to record"
		fi
		phone_dtmf D 1234#
		# past the "joined" prompt
		sleep 3
		pd=$(rec_pos D); pb=$(rec_pos B)
		check "7001: D and B record 2 s more" eval "wait_pos D $(awk -v s="$pd" 'BEGIN{print s + 2}') && wait_pos B $(awk -v s="$pb" 'BEGIN{print s + 2}')"
		ldb=$(level D "$HZ_B" "$pd" 2); ldd=$(level D "$HZ_D" "$pd" 2)
		lbd=$(level B "$HZ_D" "$pb" 2); lbb=$(level B "$HZ_B" "$pb" 2)
		diag "7001: D hears B $ldb, itself $ldd ($(ratio_db "$ldb" "$ldd") dB); B hears D $lbd, itself $lbb ($(ratio_db "$lbd" "$lbb") dB)"
		check "7001: with the right PIN D hears B ($ldb)" ge "$ldb" "$PHONE_HEARS_MIN"
		check "7001: B hears D ($lbd)" ge "$lbd" "$PHONE_HEARS_MIN"
		check "7001: D's call stays up" test "$(phone_count D CALL_CLOSED)" = 0
	else
		not_ok "D dials room 7001 again: answered"
	fi
	leave B D
fi

# ------------------------------------------------------------------ room full

diag "--- room 7002: at most 2"
if enter A 7002 && enter B 7002; then
	if enter C 7002 "" system; then
		refused C 7002 "7002 full" "$ENTER_MS" conf_full goodbye
	fi
	pa=$(awk -v s="$(rec_pos A)" 'BEGIN{print s + 0.3}')
	wait_pos A "$(awk -v s="$pa" 'BEGIN{print s + 1.5}')" >/dev/null
	l=$(level A "$HZ_B" "$pa" 1.5)
	check "7002: A and B are still in the room (A hears B: $l)" ge "$l" "$PHONE_HEARS_MIN"
fi
leave A B

# ------------------------------------------------------------------ lock

diag "--- room 7003: A moderator (PIN 2222), B (PIN 1111); C refused while locked"
if enter A 7003 2222 && enter B 7003 1111; then
	sleep 3
	pa=$(rec_pos A)
	wait_pos A "$(awk -v s="$pa" 'BEGIN{print s + 1.5}')" >/dev/null
	l=$(level A "$HZ_B" "$pa" 1.5)
	check "7003: A (moderator) hears B ($l)" ge "$l" "$PHONE_HEARS_MIN"
	phone_dtmf A '*1'
	sleep 0.5
	if enter C 7003 1111 system; then
		refused C 7003 "7003 locked" "$ENTER_MS" conf_locked goodbye
	fi
	phone_dtmf A '*1'
	sleep 0.5
	# B is no moderator: its *1 changes nothing
	phone_dtmf B '*1'
	sleep 0.5
	if enter C 7003 1111; then
		sleep 3
		check "7003 unlocked: C's call stays up" test "$(phone_count C CALL_CLOSED)" = 0
		pc=$(rec_pos C)
		wait_pos C "$(awk -v s="$pc" 'BEGIN{print s + 2}')" >/dev/null
		lca=$(level C "$HZ_A" "$pc" 2); lcb=$(level C "$HZ_B" "$pc" 2)
		check "7003 unlocked (and B's *1 ignored): C joined, hears A ($lca)" ge "$lca" "$PHONE_HEARS_MIN"
		check "7003 unlocked: C hears B ($lcb)" ge "$lcb" "$PHONE_HEARS_MIN"
		leave C
	fi
fi
leave A B

# ------------------------------------------------------------------ CDR

cdr_row() {
	sql "select disposition, hangup_by, caller, callee, dialed from cdr
		where call_id = '${1//\'/\'\'}'" 2>/dev/null
}
cdr_present() { [ -n "$(cdr_row "$1")" ]; }
diag "CDR rows of the conference calls: disposition|hangup_by|caller|callee|dialed"
for c in "${CONF_CALLS[@]}"; do
	read -r cid room by label <<<"$c"
	if [ -z "$cid" ] || ! wait_for 10 cdr_present "$cid"; then
		not_ok "CDR $label: row for Call-ID '$cid' within 10 s"
		continue
	fi
	row=$(cdr_row "$cid")
	diag "$label: $row"
	IFS='|' read -r disp hb _ callee dialed <<<"$row"
	check "CDR $label: answered, room $room dialed (or callee), hung up by $by" \
		test "$disp" = answered -a "$hb" = "$by" -a \( "$dialed" = "$room" -o "$callee" = "$room" \)
done

check "pbxd still running" pbx_alive
diag "t_conference took $(( ($(now_ms) - T0) / 1000 )) s"
phones_cleanup
t_done
