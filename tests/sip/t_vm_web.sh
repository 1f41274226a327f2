#!/bin/bash
# t_vm_web.sh: voicemail through the JSON API and pbxctl vm. Messages are
# put in a mailbox with `pbxctl vm add` (a 440 Hz tone WAV made by sox,
# encoded into the spool like a recording), listed through the API, and
# their recording fetched: the bytes equal the file; single byte ranges
# come back 206 with exactly those bytes and a Content-Range; a range past
# the end is 416; If-None-Match gives 304; download=1 an attachment; the
# downloaded file decodes (opusfile, tests/sip/opus_decode) to the tone for
# its length. heard and folder change by PATCH; DELETE removes the row and
# the file (a message whose file is already gone deletes too). Mailbox
# settings are validated field by field. Path tricks in {mailbox} and {id}
# get 400 or 404, no session 401, no CSRF token 403. pbxctl vm add into a
# read-only spool fails with a clear message and leaves nothing behind.
. "$(dirname "$0")/lib.sh"

require_pbx
DECODE=$ROOT/tests/sip/opus_decode
if [ ! -x "$DECODE" ]; then
	not_ok "tests/sip/opus_decode is built (make unit)"
	echo "1..$T_N"
	exit 1
fi

ADMIN_PW='vm web test password'
BASE=http://127.0.0.1:$HTTP_PORT
JAR=$WORK/cookies
provision_range 1000 1001
printf '%s\n' "$ADMIN_PW" | ctl admin passwd admin >/dev/null || not_ok "pbxctl admin passwd"
sox -n -r 8000 -c 1 -b 16 "$WORK/tone.wav" synth 2 sine 440 vol 0.5
sox -n -r 8000 -c 1 -b 16 "$WORK/short.wav" synth 0.5 sine 440 vol 0.5
sox -n -r 16000 -c 1 -b 16 "$WORK/wide.wav" synth 2 sine 440 vol 0.5

vmctl() { "$PBXCTL" --db "$DB" --spool "$SPOOL" vm "$@"; }

# ---- pbxctl vm -------------------------------------------------------------------

ID1=$(vmctl add 1000 "$WORK/tone.wav" --caller 555 2>"$WORK/err") || diag "$(cat "$WORK/err")"
ID2=$(vmctl add 1000 "$WORK/tone.wav" --caller 556 --folder old 2>"$WORK/err") || diag "$(cat "$WORK/err")"
check "pbxctl vm add prints the new ids" eval '[[ "$ID1" =~ ^[0-9]+$ && "$ID2" =~ ^[0-9]+$ ]]'
is "pbxctl vm list shows both, new first" "$(vmctl list 1000 | cut -f1,2,3,5,6 | tr '\t' ' ')" \
	"$ID1 new 555 2.0 no
$ID2 old 556 2.0 no"
is "two files in the mailbox's spool folder" "$(find "$SPOOL/1000" -name '*.opus' | wc -l)" 2
out=$(vmctl add 1000 "$WORK/short.wav" 2>&1); rc=$?
check "a WAV under a second is refused (exit 1, says why)" eval '[ $rc = 1 ] && grep -q "shorter than" <<<"$out"'
out=$(vmctl add 1000 "$WORK/wide.wav" 2>&1); rc=$?
check "a 16 kHz WAV is refused (exit 1, says 8000 Hz)" eval '[ $rc = 1 ] && grep -q "8000 Hz" <<<"$out"'
out=$(vmctl add 999 "$WORK/tone.wav" 2>&1); rc=$?
check "an unknown mailbox is refused (exit 1)" eval '[ $rc = 1 ] && grep -q "no mailbox 999" <<<"$out"'

# Read-only spool: all of it (a read-only tmpfs), then only the mailbox's
# folder (a read-only bind mount: the encoding into SPOOL/tmp works, the
# rename fails). Each time exit 1, a message naming the spool, no row and no
# file left, temporary ones included. In a mount namespace of its own.
ROS=$WORK/rospool
mkdir -p "$ROS/full" "$ROS/part/1000" "$ROS/part/tmp"
out=$(unshare -m bash -c '
	mount -t tmpfs -o ro,size=1m none "$1/full" || exit 99
	"$2" --db "$3" --spool "$1/full" vm add 1000 "$4" 2>&1; echo "rc=$?"
	find "$1/full" -type f | wc -l
	mount --bind "$1/part/1000" "$1/part/1000" && mount -o remount,bind,ro "$1/part/1000" || exit 99
	"$2" --db "$3" --spool "$1/part" vm add 1000 "$4" 2>&1; echo "rc=$?"
	find "$1/part" -type f | wc -l' _ "$ROS" "$PBXCTL" "$DB" "$WORK/tone.wav")
diag "$out"
check "vm add into a read-only spool fails with a clear error" \
	eval 'grep -q "rc=1" <<<"$out" && grep -q "cannot record into the spool.*Read-only file system" <<<"$out"'
check "vm add into a read-only mailbox folder fails too" \
	eval '[ "$(grep -c "rc=1" <<<"$out")" = 2 ] && grep -q "cannot store the message in the spool" <<<"$out"'
check "nothing is left behind (no file, no temporary file)" \
	eval '[ "$(sed -n 3p <<<"$out")" = 0 ] && [ "$(sed -n 6p <<<"$out")" = 0 ]'
is "and no row: still two messages" "$(vmctl list 1000 | wc -l)" 2

# ---- sign in -------------------------------------------------------------------------

if ! pbx_start; then not_ok "pbxd starts"; t_done; fi
ok "pbxd starts"

CSRF=$(curl -s -m 5 -c "$JAR" -H 'Content-Type: application/json' \
	-d "{\"username\":\"admin\",\"password\":\"$ADMIN_PW\"}" "$BASE/api/v1/session" | jq -r .csrf)
check "signed in (CSRF token)" eval '[ ${#CSRF} = 64 ]'

# api METHOD PATH [curl args...]: body into $WORK/body, headers into
# $WORK/hdr, prints the status
api() {
	local m=$1 p=$2; shift 2
	curl -s -m 10 -b "$JAR" -X "$m" -H "X-CSRF-Token: $CSRF" -D "$WORK/hdr" -o "$WORK/body" \
		-w '%{http_code}' "$@" "$BASE$p"
}
hdr() { grep -i "^$1:" "$WORK/hdr" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
json() { api PATCH "$1" -H 'Content-Type: application/json' -d "$2"; }

# ---- lists ------------------------------------------------------------------------------

st=$(api GET /api/v1/voicemail)
is "GET /voicemail: 200" "$st" 200
is "mailbox 1000 counts one new, one old" "$(jq -c '.items[] | select(.mailbox=="1000") | [.new,.old]' "$WORK/body")" "[1,1]"
is "mailbox 1001 is listed with 0/0" "$(jq -c '.items[] | select(.mailbox=="1001") | [.new,.old]' "$WORK/body")" "[0,0]"
st=$(api GET /api/v1/voicemail/1000/messages)
is "GET messages: 200" "$st" 200
is "both messages, new then old, with caller, duration, heard" \
	"$(jq -c '[.items[] | [.id, .folder, .caller, .duration_ms, .heard, .email_status]]' "$WORK/body")" \
	"[[$ID1,\"new\",\"555\",2000,false,\"\"],[$ID2,\"old\",\"556\",2000,false,\"\"]]"
st=$(api GET '/api/v1/voicemail/1000/messages?folder=old')
is "folder=old: only the old one" "$st $(jq -c '[.items[].id]' "$WORK/body")" "200 [$ID2]"
st=$(api GET '/api/v1/voicemail/1000/messages?folder=x')
is "folder=x: 400 naming folder" "$st $(jq -r .field "$WORK/body")" "400 folder"

# ---- audio ---------------------------------------------------------------------------------

FILE=$(sqlite3 "$DB" "SELECT file FROM vm_messages WHERE id = $ID1")
FP=$SPOOL/$FILE
SIZE=$(stat -c %s "$FP")
AUDIO=/api/v1/voicemail/1000/messages/$ID1/audio
st=$(api GET "$AUDIO")
is "audio: 200, audio/ogg" "$st $(hdr Content-Type)" "200 audio/ogg"
check "audio: the bytes are the file's" cmp -s "$WORK/body" "$FP"
is "audio: Accept-Ranges bytes" "$(hdr Accept-Ranges)" bytes
ETAG=$(hdr ETag)
check "audio: an ETag" eval '[ -n "$ETAG" ]'
cp "$WORK/body" "$WORK/full.opus"

st=$(api GET "$AUDIO" -H 'Range: bytes=0-99')
is "Range bytes=0-99: 206 with Content-Range" "$st $(hdr Content-Range)" "206 bytes 0-99/$SIZE"
check "... and exactly those 100 bytes" cmp -s "$WORK/body" <(head -c 100 "$FP")
st=$(api GET "$AUDIO" -H 'Range: bytes=100-')
is "Range bytes=100-: 206, the rest" "$st $(hdr Content-Range)" "206 bytes 100-$((SIZE - 1))/$SIZE"
check "... and exactly the rest" cmp -s "$WORK/body" <(tail -c +101 "$FP")
st=$(api GET "$AUDIO" -H 'Range: bytes=-10')
check "Range bytes=-10: the last 10 bytes" eval '[ "$st" = 206 ] && cmp -s "$WORK/body" <(tail -c 10 "$FP")'
st=$(api GET "$AUDIO" -H "Range: bytes=$SIZE-")
is "a range past the end: 416 with Content-Range bytes */size" "$st $(hdr Content-Range)" "416 bytes */$SIZE"
st=$(api GET "$AUDIO" -H 'Range: bytes=0-1,5-9')
check "several ranges: the whole file (200)" eval '[ "$st" = 200 ] && cmp -s "$WORK/body" "$FP"'
st=$(api GET "$AUDIO" -H "If-None-Match: $ETAG")
is "If-None-Match with the ETag: 304" "$st" 304
st=$(api GET "$AUDIO?download=1")
check "download=1: Content-Disposition attachment" eval '[ "$st" = 200 ] && hdr Content-Disposition | grep -q "^attachment; filename=\"voicemail-1000-$ID1.ogg\""'

"$DECODE" "$WORK/full.opus" >"$WORK/full.raw" 2>"$WORK/err" || diag "$(cat "$WORK/err")"
stat_out=$(sox -t raw -r 48000 -e signed -b 16 -c 1 "$WORK/full.raw" -n stat 2>&1)
freq=$(awk '/Rough   frequency/ {print $3}' <<<"$stat_out")
len=$(awk '/Length \(seconds\)/ {print $3}' <<<"$stat_out")
rms=$(awk '/RMS     amplitude/ {print $3}' <<<"$stat_out")
diag "downloaded file: $len s, rough frequency $freq Hz, RMS $rms"
check "the downloaded file decodes to the 440 Hz tone" eval '[ -n "$freq" ] && [ "$freq" -ge 430 ] && [ "$freq" -le 450 ]'
check "... for its 2 s, at its level (RMS 0.3..0.4)" \
	awk -v l="$len" -v r="$rms" 'BEGIN { exit !(l >= 1.95 && l <= 2.05 && r >= 0.3 && r <= 0.4) }'

# ---- changes -----------------------------------------------------------------------------------

st=$(json "/api/v1/voicemail/1000/messages/$ID1" '{"heard":true}')
is "PATCH heard: 200, heard" "$st $(jq -c '[.heard,.folder]' "$WORK/body")" '200 [true,"new"]'
is "... stored (pbxctl vm list)" "$(vmctl list 1000 | awk -F'\t' -v i="$ID1" '$1 == i {print $6}')" yes
st=$(json "/api/v1/voicemail/1000/messages/$ID1" '{"folder":"old"}')
is "PATCH folder old: saved" "$st $(jq -c '[.heard,.folder]' "$WORK/body")" '200 [true,"old"]'
st=$(json "/api/v1/voicemail/1000/messages/$ID1" '{"folder":"new"}')
is "PATCH folder new: 400 naming folder" "$st $(jq -r .field "$WORK/body")" "400 folder"
st=$(json "/api/v1/voicemail/1000/messages/$ID1" '{"heard":"yes"}')
is "PATCH heard \"yes\": 400 naming heard" "$st $(jq -r .field "$WORK/body")" "400 heard"
st=$(json "/api/v1/voicemail/1000/messages/$ID1" '{"file":"../../pbx.db"}')
is "PATCH file: 400 unknown field" "$st $(jq -r .field "$WORK/body")" "400 file"

st=$(api GET /api/v1/voicemail/1000)
is "GET mailbox: 200" "$st $(jq -c '[.pin_set,.max_msg_seconds,.max_messages,.new,.old]' "$WORK/body")" \
	"200 [true,180,100,0,2]"
for bad in '{"pin":"12"}:pin' '{"pin":"12ab"}:pin' '{"email":"not an address"}:email' \
	'{"max_msg_seconds":5}:max_msg_seconds' '{"max_messages":0}:max_messages' '{"max_messages":"9"}:max_messages' \
	'{"vm_on":["noanswer","sometimes"]}:vm_on' '{"vm_on":"busy"}:vm_on' '{"unsolicited_mwi":1}:unsolicited_mwi' \
	'{"greeting":"x"}:greeting'; do
	st=$(json /api/v1/voicemail/1000 "${bad%:*}")
	is "PATCH mailbox ${bad%:*}: 400 naming ${bad##*:}" "$st $(jq -r .field "$WORK/body")" "400 ${bad##*:}"
done
st=$(json /api/v1/voicemail/1000 '{"pin":"4321","email":"box@example.com","max_msg_seconds":60,"max_messages":5,"vm_on":["busy","dnd"],"unsolicited_mwi":true}')
is "PATCH mailbox: 200 with the new settings" \
	"$st $(jq -c '[.pin_set,.email,.max_msg_seconds,.max_messages,.vm_on,.unsolicited_mwi]' "$WORK/body")" \
	'200 [true,"box@example.com",60,5,["busy","dnd"],true]'
is "... stored (pbxctl vm mailbox)" "$(vmctl mailbox 1000 | awk '/^(pin|email|max|vm on)/ {print $NF}' | tr '\n' ' ')" \
	"set box@example.com 60 5 busy,dnd "
is "... and the PIN is the one given" "$(sqlite3 "$DB" "SELECT vm_pin FROM extensions WHERE number = '1000'")" 4321

# ---- path tricks, sessions, CSRF -----------------------------------------------------------------

for p in "/api/v1/voicemail/..%2F..%2Fetc/messages" "/api/v1/voicemail/1000/messages/..%2F$ID1/audio" \
	"/api/v1/voicemail/1000/messages/$ID1%2F..%2F..%2Fpbx.db/audio" "/api/v1/voicemail/1000/messages/-1/audio" \
	"/api/v1/voicemail/1000/messages/0x1/audio" "/api/v1/voicemail/1001/messages/$ID1/audio" \
	"/api/v1/voicemail/1000%00/messages/$ID1/audio"; do
	st=$(api GET "$p")
	check "GET $p: 400 or 404 ($st)" eval '[ "$st" = 400 ] || [ "$st" = 404 ]'
done
st=$(curl -s -m 5 -b "$JAR" -o /dev/null -w '%{http_code}' --path-as-is "$BASE/api/v1/voicemail/1000/messages/../../../../etc/passwd")
check "a dot-segment path: 400 or 404 ($st)" eval '[ "$st" = 400 ] || [ "$st" = 404 ]'
st=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$BASE$AUDIO")
is "audio without a session: 401" "$st" 401
st=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$BASE/api/v1/voicemail/1000/messages")
is "messages without a session: 401" "$st" 401
st=$(curl -s -m 5 -b "$JAR" -o /dev/null -w '%{http_code}' -X DELETE "$BASE/api/v1/voicemail/1000/messages/$ID1")
is "DELETE without the CSRF token: 403" "$st" 403
st=$(curl -s -m 5 -b "$JAR" -o /dev/null -w '%{http_code}' -X PATCH -H 'Content-Type: application/json' \
	-d '{"heard":false}' "$BASE/api/v1/voicemail/1000/messages/$ID1")
is "PATCH without the CSRF token: 403" "$st" 403
is "... and nothing changed" "$(vmctl list 1000 | wc -l)" 2

# ---- delete ---------------------------------------------------------------------------------------

st=$(api DELETE "/api/v1/voicemail/1000/messages/$ID1")
is "DELETE: 204" "$st" 204
check "... the file is gone" eval '[ ! -e "$FP" ]'
is "... the row is gone" "$(vmctl list 1000 | cut -f1)" "$ID2"
st=$(api DELETE "/api/v1/voicemail/1000/messages/$ID1")
is "DELETE again: 404" "$st" 404
FILE2=$(sqlite3 "$DB" "SELECT file FROM vm_messages WHERE id = $ID2")
rm -f "$SPOOL/$FILE2"
st=$(api GET "/api/v1/voicemail/1000/messages/$ID2/audio")
is "audio of a message whose file is missing: 404" "$st" 404
st=$(api DELETE "/api/v1/voicemail/1000/messages/$ID2")
is "DELETE of a message whose file is missing: 204" "$st" 204
is "mailbox 1000 is empty" "$(vmctl list 1000 | wc -l)" 0

# pbxctl vm del: the row and the file
ID3=$(vmctl add 1001 "$WORK/tone.wav" 2>/dev/null)
F3=$SPOOL/$(sqlite3 "$DB" "SELECT file FROM vm_messages WHERE id = $ID3")
check "pbxctl vm del removes the row and the file" eval 'vmctl del 1001 "$ID3" >/dev/null && [ ! -e "$F3" ] && [ "$(vmctl list 1001 | wc -l)" = 0 ]'
out=$(vmctl del 1001 "$ID3" 2>&1); rc=$?
check "pbxctl vm del of an unknown message: exit 1" eval '[ $rc = 1 ] && grep -q "no message" <<<"$out"'

t_done
