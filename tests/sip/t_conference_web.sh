#!/bin/bash
# t_conference_web.sh: the web admin's conference controls against real
# softphones (baresip, tests/sip/phone.sh) in a room of pbxd, through the
# JSON API with curl (a signed-in session and its CSRF token).
#
#   room 7100 (PIN 1234): A (PCMU 440 Hz), B (PCMU 1900 Hz) and C (PCMA
#     2900 Hz), each at -6 dBFS, join. GET /api/v1/rooms/live lists the three
#     by extension, unmuted, the room unlocked.
#   Without a session the live list, mute, kick and lock answer 401; with a
#     session but no CSRF token the state-changing ones answer 403 and change
#     nothing (B is still heard).
#   Mute B by the API: the list says muted, B's tone is gone from A's and
#     C's recordings (at least 40 dB below the tone still heard); unmute:
#     back in both.
#   Remove C by the API: C's call is closed by pbxd (BYE) within a bound and
#     the list shrinks to A and B.
#   Lock by the API: the list says locked; C dials with the right PIN and is
#     refused (hung up by pbxd, hearing nobody). Unlock: C joins, stays, hears
#     A, and the list has three again.
#   Unknown room or participant: 404 naming the field; a bad body: 400.
#   Everybody hangs up: the list is empty.
#
# Windows are measured in each phone's recording time (rec_pos), as in
# t_conference.sh.
. "$(dirname "$0")/lib.sh"
. "$SIPDIR/phone.sh"

for tool in baresip sox soxi python3 curl; do
	if ! command -v "$tool" >/dev/null; then
		skip "conference controls of the web admin" "$tool not installed (Debian baresip-core, sox, curl)"
		echo "1..$T_N"
		exit 0
	fi
done
require_pbx
T0=$(now_ms)

PROMPTS=${PROMPTS:-$ROOT/build/prompts}
if "$PBXD" --help 2>&1 | grep -q -- '--prompts' && [ -f "$PROMPTS/conf_full.wav" ]; then
	PBX_ARGS+=(--prompts "$PROMPTS")
else
	diag "no prompts in $PROMPTS (run make): pbxd hangs up at once instead of after its prompts"
fi

ADMIN_PW="conference web test password"
provision_range 1000 1009
ctl setting set auth_algorithms MD5 >/dev/null
check "pbxctl: room 7100 (PIN 1234)" eval "ctl room add 7100 --name 'web <b>room</b>' --pin 1234 >/dev/null"
check "pbxctl: administrator password set" eval "printf '%s\n' '$ADMIN_PW' | ctl admin passwd admin >/dev/null"
if ! pbx_start; then not_ok "pbxd starts and answers /healthz"; t_done; fi
ok "pbxd starts and answers /healthz"

PBX=127.0.0.1:$SIP_PORT
HZ_A=440 HZ_B=1900 HZ_C=2900
TONE_S=150
for p in A B C; do
	eval "hz=\$HZ_$p"
	make_tone "$hz" 48000 "$WORK/tone_$p.wav" "$TONE_S" 0.5 || not_ok "make_tone $hz Hz"
done
PHONE_TONE_SECONDS=$TONE_S
phone_start A 1001 pw1001 "$PBX" PCMU "$WORK/tone_A.wav" &&
phone_start B 1002 pw1002 "$PBX" PCMU "$WORK/tone_B.wav" &&
phone_start C 1003 pw1003 "$PBX" PCMA "$WORK/tone_C.wav"
check "three baresip phones start (A PCMU, B PCMU, C PCMA)" test $? = 0
for p in A B C; do
	check "phone $p registers to pbxd (REGISTER_OK)" phone_wait "$p" REGISTER_OK 10
done

. "$SIPDIR/web.sh"
check "sign in to the web admin (201, a CSRF token)" signin

# live: the body of GET /api/v1/rooms/live
live() { api GET /api/v1/rooms/live | body_of_resp; }
# members ROOM: "EXT:ID:muted:moderator" of each participant, in order
members() {
	live | jget "'\n'.join(p['number'] + ':' + p['id'] + ':' + str(p['muted']) + ':' + str(p['moderator'])
		for r in j['items'] if r['number'] == '$1' for p in r['participants'])"
}
member_exts() { members "$1" | cut -d: -f1 | sort | tr '\n' ' ' | sed 's/ $//'; }
exts_are() { [ "$(member_exts "$1")" = "$2" ]; }
id_of() { members "$1" | awk -F: -v e="$2" '$1 == e { print $2; exit }'; }
muted_of() { members "$1" | awk -F: -v e="$2" '$1 == e { print $3; exit }'; }
room_locked() { live | jget "[r['locked'] for r in j['items'] if r['number'] == '$1'][0]"; }

# ------------------------------------------------------------------ audio helpers (as t_conference.sh)

ratio_db() { awk -v o="$1" -v w="$2" 'BEGIN{ if (w < 1e-7) w = 1e-7; if (o < 1e-7) o = 1e-7; printf "%.1f", 20 * log(o / w) / log(10) }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN{exit !(a >= b)}'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN{exit !(a < b)}'; }
rec_pos() {
	local f
	f=$(phone_recording "$1" 2>/dev/null) || { echo 0; return 1; }
	wav_seconds "$f" 2>/dev/null || echo 0
}
wait_pos() { phone_wait_audio "$1" "$2" "$(awk -v p="$2" 'BEGIN{print p + 8}')"; }
level() {
	local f
	f=$(phone_recording "$1") || { echo 0; return 1; }
	band_level "$f" "$2" "$3" "$4" || echo 0
}
plus() { awk -v a="$1" -v b="$2" 'BEGIN{print a + b}'; }
# window NAME...: POS[NAME] = half a second past now in NAME's recording, then
# wait until each has recorded SECS (global WIN) more
declare -A POS
window() {
	local p
	for p; do POS[$p]=$(plus "$(rec_pos "$p")" 0.5); done
	for p; do check "$p records $WIN s more" wait_pos "$p" "$(plus "${POS[$p]}" "$WIN")"; done
}

# enter NAME ROOM PIN: NAME dials ROOM, and once answered and audio flows keys PIN#
enter() {
	local name=$1 room=$2 pin=$3
	phone_mark "$name"
	phone_dial "$name" "$room"
	if ! phone_wait "$name" CALL_ESTABLISHED 8; then
		not_ok "$name dials room $room: answered (CALL_ESTABLISHED)"
		phone_hangup "$name"
		return 1
	fi
	ok "$name dials room $room: answered (CALL_ESTABLISHED)"
	phone_wait_audio "$name" 0.3 2 >/dev/null 2>&1
	phone_dtmf "$name" "$pin#" || { not_ok "$name keys $pin#"; return 1; }
}
closed_by_pbx() {
	local why
	why=$(phone_field "$1" CALL_CLOSED param | head -1)
	[ "$why" = "Connection reset by peer" ] && return 0
	echo "# $1 CALL_CLOSED reason: '$why'" >&2
	return 1
}

# ------------------------------------------------------------------ no session, no token

R=$(http GET /api/v1/rooms/live)
is "GET /rooms/live without a session: 401" "$(code <<<"$R")" 401
R=$(http POST /api/v1/rooms/7100/lock '{"locked":true}')
is "POST /rooms/7100/lock without a session: 401" "$(code <<<"$R")" 401
R=$(http POST /api/v1/rooms/7100/participants/1/mute '{"muted":true}')
is "POST .../participants/1/mute without a session: 401" "$(code <<<"$R")" 401
R=$(http DELETE /api/v1/rooms/7100/participants/1)
is "DELETE .../participants/1 without a session: 401" "$(code <<<"$R")" 401

# ------------------------------------------------------------------ three join

diag "--- room 7100 (PIN 1234): A, B, C"
ROOM_OK=1
for p in A B C; do enter "$p" 7100 1234 || ROOM_OK=0; done
if [ $ROOM_OK = 1 ]; then
	check "the API lists 1001, 1002 and 1003 in room 7100 (within 10 s)" wait_for 10 exts_are 7100 "1001 1002 1003"
	diag "rooms/live: $(live)"
	is "7100 is not locked" "$(room_locked 7100)" False
	is "B (1002) is listed unmuted" "$(muted_of 7100 1002)" False
	ID_B=$(id_of 7100 1002)
	ID_C=$(id_of 7100 1003)
	check "participant ids are call ids (digits): B $ID_B, C $ID_C" eval "[[ '$ID_B' =~ ^[0-9]+\$ && '$ID_C' =~ ^[0-9]+\$ ]]"
	# past the joining prompts
	for p in A B C; do wait_pos "$p" "$(plus "$(rec_pos "$p")" 3)" >/dev/null 2>&1; done

	# no CSRF token: refused, nothing changes
	R=$(http POST "/api/v1/rooms/7100/participants/$ID_B/mute" '{"muted":true}' -b "$JAR")
	is "mute without the CSRF token: 403" "$(code <<<"$R")" 403
	R=$(http POST "/api/v1/rooms/7100/participants/$ID_B/mute" '{"muted":true}' -b "$JAR" -H 'X-CSRF-Token: 00')
	is "mute with a wrong CSRF token: 403" "$(code <<<"$R")" 403
	R=$(http DELETE "/api/v1/rooms/7100/participants/$ID_C" '' -b "$JAR")
	is "kick without the CSRF token: 403" "$(code <<<"$R")" 403
	R=$(http POST /api/v1/rooms/7100/lock '{"locked":true}' -b "$JAR")
	is "lock without the CSRF token: 403" "$(code <<<"$R")" 403
	is "after the refused requests B is still unmuted" "$(muted_of 7100 1002)" False
	is "after the refused requests 7100 is still unlocked" "$(room_locked 7100)" False
	check "after the refused requests C is still in the call" test "$(phone_count C CALL_CLOSED)" = 0

	WIN=3
	window A C
	lab=$(level A "$HZ_B" "${POS[A]}" $WIN); lac=$(level A "$HZ_C" "${POS[A]}" $WIN)
	lcb=$(level C "$HZ_B" "${POS[C]}" $WIN); lca=$(level C "$HZ_A" "${POS[C]}" $WIN)
	diag "7100 before: A hears B $lab, C $lac; C hears B $lcb, A $lca"
	check "A hears B before the mute ($lab)" ge "$lab" "$PHONE_HEARS_MIN"
	check "C hears B before the mute ($lcb)" ge "$lcb" "$PHONE_HEARS_MIN"

	# mute B through the API
	R=$(api POST "/api/v1/rooms/7100/participants/$ID_B/mute" '{"muted":true}')
	is "mute B by the API: 200" "$(code <<<"$R")" 200
	is "the answer says muted" "$(body_of_resp <<<"$R" | jget 'j["muted"]')" True
	check "the list shows B muted" wait_for 3 eval '[ "$(muted_of 7100 1002)" = True ]'
	window A C
	lab=$(level A "$HZ_B" "${POS[A]}" $WIN); lac=$(level A "$HZ_C" "${POS[A]}" $WIN)
	lcb=$(level C "$HZ_B" "${POS[C]}" $WIN); lca=$(level C "$HZ_A" "${POS[C]}" $WIN)
	diag "7100 B muted: A hears B $lab, C $lac ($(ratio_db "$lac" "$lab") dB); C hears B $lcb, A $lca ($(ratio_db "$lca" "$lcb") dB)"
	check "muted by the API: A still hears C ($lac)" ge "$lac" "$PHONE_HEARS_MIN"
	check "muted by the API: B's tone gone from A's recording ($(ratio_db "$lac" "$lab") dB below C's; want >= 40)" \
		ge "$(ratio_db "$lac" "$lab")" 40
	check "muted by the API: B's tone gone from C's recording ($(ratio_db "$lca" "$lcb") dB below A's; want >= 40)" \
		ge "$(ratio_db "$lca" "$lcb")" 40

	# unmute
	R=$(api POST "/api/v1/rooms/7100/participants/$ID_B/mute" '{"muted":false}')
	is "unmute B by the API: 200" "$(code <<<"$R")" 200
	check "the list shows B unmuted" wait_for 3 eval '[ "$(muted_of 7100 1002)" = False ]'
	WIN=2
	window A C
	lab=$(level A "$HZ_B" "${POS[A]}" $WIN); lcb=$(level C "$HZ_B" "${POS[C]}" $WIN)
	check "unmuted by the API: A hears B again ($lab)" ge "$lab" "$PHONE_HEARS_MIN"
	check "unmuted by the API: C hears B again ($lcb)" ge "$lcb" "$PHONE_HEARS_MIN"

	# errors: unknown room, participant, bad body
	R=$(api POST /api/v1/rooms/7999/participants/"$ID_B"/mute '{"muted":true}')
	is "mute in a room nobody is in: 404" "$(code <<<"$R")" 404
	is "... naming the field id" "$(body_of_resp <<<"$R" | jget 'j["field"]')" id
	R=$(api POST /api/v1/rooms/7100/participants/999999/mute '{"muted":true}')
	is "mute an unknown participant: 404" "$(code <<<"$R")" 404
	R=$(api DELETE /api/v1/rooms/7100/participants/999999)
	is "remove an unknown participant: 404" "$(code <<<"$R")" 404
	R=$(api POST /api/v1/rooms/7999/lock '{"locked":true}')
	is "lock a room nobody is in: 404" "$(code <<<"$R")" 404
	is "... naming the field number" "$(body_of_resp <<<"$R" | jget 'j["field"]')" number
	R=$(api POST "/api/v1/rooms/7100/participants/$ID_B/mute" '{"muted":"yes"}')
	is "mute with a bad body: 400" "$(code <<<"$R")" 400
	is "... naming the field muted" "$(body_of_resp <<<"$R" | jget 'j["field"]')" muted
	is "after the refused requests B is still unmuted" "$(muted_of 7100 1002)" False

	# remove C
	phone_mark C
	R=$(api DELETE "/api/v1/rooms/7100/participants/$ID_C")
	is "remove C by the API: 204" "$(code <<<"$R")" 204
	if phone_wait C CALL_CLOSED 12; then
		ok "removed by the API: C's call is closed within 12 s"
		check "removed by the API: the BYE came from pbxd" closed_by_pbx C
	else
		not_ok "removed by the API: C's call is closed within 12 s"
		phone_hangup C
	fi
	check "the list shrinks to 1001 and 1002" wait_for 3 exts_are 7100 "1001 1002"
	R=$(api DELETE "/api/v1/rooms/7100/participants/$ID_C")
	is "remove C again: 404" "$(code <<<"$R")" 404

	# lock: C with the right PIN is refused
	R=$(api POST /api/v1/rooms/7100/lock '{"locked":true}')
	is "lock 7100 by the API: 200" "$(code <<<"$R")" 200
	check "the list shows 7100 locked" wait_for 3 eval '[ "$(room_locked 7100)" = True ]'
	if enter C 7100 1234; then
		if phone_wait C CALL_CLOSED 12; then
			ok "locked by the API: pbxd hangs up C (right PIN) within 12 s"
			check "locked: the BYE came from pbxd" closed_by_pbx C
		else
			not_ok "locked by the API: pbxd hangs up C (right PIN) within 12 s"
			phone_hangup C
		fi
		for hz in "$HZ_A" "$HZ_B"; do
			l=$(level C "$hz" 0.3 "")
			check "locked: C heard nobody in the room ($hz Hz: $l < 0.02)" lt "$l" 0.02
		done
		check "locked: the list still has 1001 and 1002 only" exts_are 7100 "1001 1002"
	fi

	# unlock: C joins
	R=$(api POST /api/v1/rooms/7100/lock '{"locked":false}')
	is "unlock 7100 by the API: 200" "$(code <<<"$R")" 200
	check "the list shows 7100 unlocked" wait_for 3 eval '[ "$(room_locked 7100)" = False ]'
	if enter C 7100 1234; then
		check "unlocked: the list has 1001, 1002 and 1003 again" wait_for 10 exts_are 7100 "1001 1002 1003"
		wait_pos C "$(plus "$(rec_pos C)" 3)" >/dev/null 2>&1
		WIN=2
		window C
		l=$(level C "$HZ_A" "${POS[C]}" $WIN)
		check "unlocked: C joined and hears A ($l)" ge "$l" "$PHONE_HEARS_MIN"
		check "unlocked: C's call stays up" test "$(phone_count C CALL_CLOSED)" = 0
	fi
fi

for p in A B C; do phone_hangup "$p"; done
for p in A B C; do phone_wait "$p" CALL_CLOSED 5 >/dev/null 2>&1; done
check "everybody hung up: the API lists no room in use" wait_for 5 eval '[ "$(live | jget "len(j[\"items\"])")" = 0 ]'
R=$(api POST /api/v1/rooms/7100/lock '{"locked":true}')
is "lock an empty room: 404" "$(code <<<"$R")" 404

check "pbxd still running" pbx_alive
diag "t_conference_web took $(( ($(now_ms) - T0) / 1000 )) s"
phones_cleanup
t_done
