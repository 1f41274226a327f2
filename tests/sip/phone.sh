# phone.sh: real softphones (baresip) for the call tests, as shell functions.
# Source it after lib.sh (it chains lib.sh's EXIT trap):
#   . "$(dirname "$0")/lib.sh"; . "$SIPDIR/phone.sh"
#
#   phone_start A 1001 pw1001 127.0.0.1:$SIP_PORT PCMU 440      # registers to pbxd
#   phone_start B 1002 pw1002 127.0.0.1:$SIP_PORT PCMU 1000
#   check "A registers" phone_wait A REGISTER_OK 5
#   phone_mark A; phone_mark B
#   phone_dial A 1002                             # sip:1002@127.0.0.1:$SIP_PORT
#   check "B answers" phone_wait B CALL_ESTABLISHED 5
#   check "audio flows" phone_wait_audio B 2
#   phone_dtmf A '12#'; check "digits" phone_wait B CALL_DTMF_END 3 3
#   is "B got the digits" "$(phone_dtmf_received B)" "12#"
#   phone_hangup A; check "B closed" phone_wait B CALL_CLOSED 5
#   check "B hears A" assert_hears B 440; check "no echo" assert_not_hears B 1000
#
# Functions (each bounded in time; on failure a "# ..." reason on stderr and a
# non-zero status; results on stdout). Call them from the test's own shell, not
# from a $(...) subshell, except the ones that print a result.
#   phone_start NAME EXT PASSWORD PBX CODECS TONE [ACCOUNT_PARAMS]
#       PBX: HOST:PORT of the registrar (HOST:PORT;transport=tcp for TCP), or
#       "-" for none (direct calls only: dial $(phone_uri OTHER)). PASSWORD "-":
#       no auth_pass. CODECS: comma list of PCMU, PCMA, opus/48000/2. TONE: Hz
#       of the sine the phone sends (0: silence) or a WAV file (48 kHz mono
#       S16LE). ACCOUNT_PARAMS: more ;-separated account parameters, e.g.
#       "mediaenc=srtp-mand", "answermode=manual", "regint=60" (each replaces
#       our default of the same name). Returns once baresip runs, its event
#       stream is connected and the account exists (registration under way).
#   phone_port NAME / phone_uri NAME       its SIP port / sip:EXT@127.0.0.1:PORT
#   phone_mark NAME            events, log and recordings count from here on
#   phone_wait NAME EVENT SECS [N]         N (1) EVENT lines after the mark, else 1 + log tail
#   phone_count NAME EVENT     how many EVENT lines after the mark
#   phone_events NAME          the event lines after the mark ("TYPE {json}")
#   phone_field NAME EVENT FIELD           FIELD of each EVENT after the mark, one a line
#   phone_log NAME             baresip's output since the mark (SIP trace with SDP)
#   phone_cmd NAME TEXT        one console command ('/dial ...', '/callstat', ...)
#   phone_dial NAME TARGET     /dial; an extension goes to sip:EXT@PBX (with its port)
#   phone_accept NAME          /accept (for answermode=manual)
#   phone_hangup NAME          /hangup (the current call)
#   phone_hold NAME / phone_resume NAME    /hold, /resume (re-INVITE a=sendonly / a=sendrecv)
#   phone_transfer NAME TARGET blind transfer, /transfer (REFER); TARGET as for phone_dial
#   phone_dtmf NAME DIGITS     RFC 4733 digits 0-9 * #, each released after $PHONE_DTMF_HOLD s
#   phone_dtmf_received NAME   digits received (CALL_DTMF_START) after the mark, as one string
#   phone_recording NAME       the newest dump-*-dec.wav (what NAME heard) since the mark
#   phone_wait_audio NAME SECS [TIMEOUT]   that recording holds SECS seconds
#   assert_hears NAME FREQ [TRIM_START [TRIM_LEN]]      FREQ±40 Hz level > $PHONE_HEARS_MIN (0.1)
#   assert_not_hears NAME FREQ [TRIM_START [TRIM_LEN]]  level < $PHONE_SILENT_MAX (0.01)
#   phone_alive NAME           baresip still runs
#   phone_stop NAME            /quit, then SIGTERM (twice), then SIGKILL, by PID; 1 if /quit failed
#   phones_cleanup             stops every phone; runs from the EXIT trap
# From audio.sh: make_tone, band_level, band_above, band_below, wav_seconds.
#
# Files: $PHONES_DIR/NAME/ ($WORK/phones/NAME under lib.sh) holds config,
# accounts, tone.wav, log (baresip's output, with a SIP trace unless
# PHONE_SIP_TRACE=0), events.log (one line per ctrl_tcp message: "TYPE {json}";
# lines starting with '#' are the reader's), cons.log (console replies) and the
# recordings dump-*-{dec,enc}.wav. KEEP=1 keeps them (lib.sh).
#
# What Debian's baresip 1.0.0 (baresip-core 1.0.0-4+b3, libre 1.1) does, as found here:
# - Console (cons_listen, UDP): a datagram "/cmd args\n" runs a long command, a
#   single character is a key; replies (and info lines) go to the sender.
#   Idle: /dial /accept /answermode /ausrc /auplay /callstat /hangup /listcalls
#   /options /quit /reginfo /uanew /uadel /uafind /uanext /insmod /rmmod /about.
#   In a call also: /hold (key x) /resume (X) /transfer URI (t; blind, REFER)
#   /mute (m, toggle) /reinvite (I) /sndcode /line /callfind /aubitrate
#   /audio_debug (A) /prevhold /prevresume /statmode. No attended transfer.
#   Its own /dial completion (sip:1002@HOST) drops the port of the account's
#   domain, hence phone_dial's full URI.
# - DTMF: a digit key in a call starts an RFC 4733 event, the byte 0x04 ends
#   it (without it the last digit never ends). A-D are menu keys ('a' accepts),
#   so only 0-9 * # can be sent.
# - ctrl_tcp: netstring JSON, one client at a time (a new connection silently
#   replaces the old). Commands {"command":"uanew","params":"...","token":"t"}
#   are answered {"response":true,"ok":...,"data":"...","token":"t"}. Events:
#   {"event":true,"type":...,"class":"call"|"register"|"other"|"application",
#   "accountaor":"sip:...","direction":"incoming"|"outgoing","peeruri":"sip:...",
#   "id":"<Call-ID>","param":...}. Registration: REGISTERING, REGISTER_OK
#   (param "200 OK"), REGISTER_FAIL (param e.g. "403 Forbidden").
#   Caller: CALL_LOCAL_SDP (offer), CALL_RINGING (on 180), CALL_REMOTE_SDP,
#   CALL_ESTABLISHED, CALL_RTPESTAB (first RTP in). Callee with answermode=auto:
#   CALL_REMOTE_SDP, CALL_LOCAL_SDP, CALL_ESTABLISHED and NO CALL_INCOMING
#   (answermode=manual gives CALL_INCOMING, then /accept). CALL_DTMF_START has
#   the digit in "param", CALL_DTMF_END none. CALL_CLOSED's param is the reason:
#   "Connection reset by user" (this side hung up), "Connection reset by peer",
#   "480 Temporarily Unavailable" (a final status), "Call transfered" (the
#   transferor), "end of file" (the tone ran out). A transferee reports
#   TRANSFER (param: the target), then dials it itself as a new call. Hold and
#   resume raise no event of their own: only CALL_REMOTE_SDP (param offer or
#   answer) and the a=sendonly / a=recvonly / a=sendrecv lines in phone_log.
#   CALL_MENC (param "0,audio,AES_CM_128_HMAC_SHA1_80") when SRTP is on.
#   EXIT when baresip quits. REGISTER_OK comes before a ctrl_tcp client is
#   accepted if the account is in the accounts file, so the account is added
#   through ctrl_tcp (uanew) after the connection is up.
# - Codec names in audio_codecs: PCMU, PCMA, opus/48000/2 (plain "opus" is
#   ignored silently and PCMU used).
# - SRTP: srtp.so gives mediaenc=srtp (RTP/AVP with a=crypto: SDES when the
#   peer takes it, plain RTP otherwise), srtp-mand (RTP/SAVP with a=crypto
#   AES_CM_128_HMAC_SHA1_80, SRTP or nothing: a plain offer is refused with 488
#   and the callee closes with "No audio codecs") and srtp-mandf. srtp and
#   srtp-mand do not talk to each other (488). dtls_srtp.so also exists
#   (mediaenc=dtls_srtp), not loaded here.
# - sndfile (snd_path DIR) writes DIR/dump-YYYY-MM-DD-HH-MM-SS-{enc,dec}.wav per
#   call: dec = what the phone heard after decoding (8 kHz mono for G.711,
#   48 kHz stereo for Opus), enc = what it sent. One-second names: two calls of
#   one phone that start in the same second share a file. The WAV sizes are
#   written when the call ends; band_level reads a file still growing. A
#   re-INVITE that changes the media direction (hold, sent or received) drops
#   sndfile from the receive path for the rest of the call: the dec recording
#   stops there, even after /resume, although audio flows (see /audio_debug).
#   A re-INVITE that keeps sendrecv (/reinvite) does not.
# - aufile (the microphone) reads its whole file at call start and ends the
#   call (AUDIO_ERROR "0,end of file", then CALL_CLOSED) when it runs out:
#   tones last $PHONE_TONE_SECONDS (60) s.
# - audio_player alsa,null spins a CPU core per phone in a call; aubridge,nil
#   (a bridge nobody reads) costs nothing, and the recordings do not need a player.
# - The Contact user of a registered phone is EXT-0x<hex> (sip:1001-0x55..@IP:PORT);
#   incoming requests are matched by that user or the account's user.
# - baresip -t SECS quits by itself (our bound); /quit can hang while a
#   transaction is pending, hence SIGTERM by PID afterwards.

. "$(dirname "${BASH_SOURCE[0]}")/audio.sh"

PHONE_CTL=${PHONE_CTL:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/baresip_ctl.py}
PHONE_HEARS_MIN=${PHONE_HEARS_MIN:-0.1}
PHONE_SILENT_MAX=${PHONE_SILENT_MAX:-0.01}
PHONE_DTMF_HOLD=${PHONE_DTMF_HOLD:-0.2}		# seconds between a digit and its release
PHONE_DTMF_GAP=${PHONE_DTMF_GAP:-0.1}		# seconds between a release and the next digit
PHONE_SIP_TRACE=${PHONE_SIP_TRACE:-1}
PHONE_TONE_SECONDS=${PHONE_TONE_SECONDS:-60}
PHONE_MAX_SECONDS=${PHONE_MAX_SECONDS:-900}	# no phone outlives this even if cleanup never runs
# Port plan of phone number i (0, 1, ...): SIP PHONE_SIP_BASE+4i (TLS takes +1),
# RTP PHONE_RTP_BASE+20i..+19, console PHONE_CONS_BASE+i, ctrl_tcp PHONE_CTRL_BASE+i.
# Clear of pbxd's defaults in lib.sh (5060, 8080, RTP 20000-20999).
PHONE_SIP_BASE=${PHONE_SIP_BASE:-15060}
PHONE_RTP_BASE=${PHONE_RTP_BASE:-30000}
PHONE_CONS_BASE=${PHONE_CONS_BASE:-25000}
PHONE_CTRL_BASE=${PHONE_CTRL_BASE:-26000}
PHONE_MAX=100
PHONE_AUDIO_PLAYER=${PHONE_AUDIO_PLAYER:-aubridge,nil}
PHONE_PLAYER_MODULE=${PHONE_PLAYER_MODULE:-aubridge.so}

if [ -z "${PHONES_DIR:-}" ]; then
	if [ -n "${WORK:-}" ]; then
		PHONES_DIR=$WORK/phones
	else
		PHONES_DIR=$(mktemp -d "${TMPDIR:-/tmp}/phones.XXXXXX") || return 1
		_PH_OWN_DIR=1
	fi
fi
mkdir -p "$PHONES_DIR" || return 1
_PH_NEXT=0		# index of the next phone (port plan)
_PH_NAMES=()		# phones started, in order

# ------------------------------------------------------------------ internals

_ph_err() { echo "# $*" >&2; }

# _ph_dir NAME: the phone's directory, or an error when NAME was never started
_ph_dir() {
	if [ -z "${1:-}" ] || [ ! -f "$PHONES_DIR/$1/ports" ]; then
		_ph_err "phone '${1:-}' was not started"
		return 1
	fi
	echo "$PHONES_DIR/$1"
}

# _ph_get NAME KEY: a value from NAME/ports (sip, cons, ctrl, ext, pid, reader)
_ph_get() {
	local d
	d=$(_ph_dir "$1") || return 1
	awk -v k="$2" '$1 == k {print $2; f = 1} END {exit !f}' "$d/ports"
}

_ph_mark_line() { cat "$PHONES_DIR/$1/mark" 2>/dev/null || echo 0; }

_ph_elapsed_ms() { echo $(( $(date +%s%3N) - $1 )); }

_ph_tail() {
	local d=$PHONES_DIR/$1
	_ph_err "$1 events since the mark (line $(_ph_mark_line "$1")):"
	awk -v m="$(_ph_mark_line "$1")" 'NR > m' "$d/events.log" 2>/dev/null | cut -c1-300 | tail -15 |
		sed 's/^/#   /' >&2
	_ph_err "$1 baresip log tail ($d/log):"
	grep -vE '^(\s|$)' "$d/log" 2>/dev/null | tail -12 | cut -c1-200 | sed 's/^/#   /' >&2
}

# ------------------------------------------------------------------ start / stop

phone_start() {
	if [ $# -lt 6 ]; then
		_ph_err "usage: phone_start NAME EXT PASSWORD PBX|- CODECS TONE [ACCOUNT_PARAMS]"
		return 1
	fi
	local name=$1 ext=$2 pass=$3 pbx=$4 codecs=$5 tone=$6 extra=${7:-}
	local d=$PHONES_DIR/$1 i sip rtp cons ctrl aor account params p key trace=() bpid rpid end busy
	case $name in ''|*[!A-Za-z0-9_-]*) _ph_err "phone_start: bad name '$name'"; return 1;; esac
	if [ -e "$d/ports" ] && phone_alive "$name"; then
		_ph_err "phone_start: $name already runs"
		return 1
	fi
	if [ "$_PH_NEXT" -ge "$PHONE_MAX" ]; then
		_ph_err "phone_start: more than $PHONE_MAX phones"
		return 1
	fi
	i=$_PH_NEXT
	_PH_NEXT=$((i + 1))
	sip=$((PHONE_SIP_BASE + 4 * i))
	rtp=$((PHONE_RTP_BASE + 20 * i))
	cons=$((PHONE_CONS_BASE + i))
	ctrl=$((PHONE_CTRL_BASE + i))
	# A reader connecting to some other baresip's ctrl_tcp would steal its events
	busy=$(ss -Htuln 2>/dev/null | awk -v a="127.0.0.1:$sip" -v b="127.0.0.1:$cons" -v c="127.0.0.1:$ctrl" \
		'$5 == a || $5 == b || $5 == c {print $1 " " $5}')
	if [ -n "$busy" ]; then
		_ph_err "phone_start $name: port(s) in use: ${busy//$'\n'/, }; set PHONE_*_BASE elsewhere"
		return 1
	fi
	rm -rf "$d"
	mkdir -p "$d" || return 1

	if [ -f "$tone" ]; then
		cp "$tone" "$d/tone.wav" || return 1
	else
		make_tone "$tone" 48000 "$d/tone.wav" "$PHONE_TONE_SECONDS" || return 1
	fi

	cat >"$d/config" <<EOF
sip_listen		127.0.0.1:$sip
net_interface		127.0.0.1
audio_player		$PHONE_AUDIO_PLAYER
audio_source		aufile,$d/tone.wav
ausrc_srate		48000
ausrc_channels		1
auplay_srate		48000
auplay_channels		1
rtp_ports		$rtp-$((rtp + 19))
module_path		/usr/lib/baresip/modules
module			cons.so
module			g711.so
module			opus.so
module			aufile.so
module			$PHONE_PLAYER_MODULE
module			sndfile.so
module			srtp.so
module_tmp		uuid.so
module_tmp		account.so
module_app		menu.so
module_app		ctrl_tcp.so
cons_listen		127.0.0.1:$cons
ctrl_tcp_listen		127.0.0.1:$ctrl
snd_path		$d
EOF
	# baresip takes the first of repeated parameters: ours only where the caller set none
	params=""
	if [ "$pbx" = - ]; then
		aor="sip:$ext@127.0.0.1:$sip"
		[[ ";$extra" == *";regint="* ]] || params+=";regint=0"
	else
		aor="sip:$ext@$pbx"
		[[ ";$extra" == *";regint="* ]] || params+=";regint=600"
	fi
	if [ "$pass" != - ] && [[ ";$extra" != *";auth_pass="* ]]; then params+=";auth_pass=$pass"; fi
	for p in answermode=auto "audio_codecs=$codecs"; do
		key=${p%%=*}
		[[ ";$extra" == *";$key="* ]] || params+=";$p"
	done
	[ -n "$extra" ] && params+=";${extra#;}"
	account="<$aor>$params"
	# The reader adds the account once its connection is accepted (uanew), so
	# that REGISTER_OK is not sent before anyone listens; the file stays empty.
	printf '# added through ctrl_tcp (uanew) by baresip_ctl.py:\n# %s\n' "$account" >"$d/accounts"
	printf 'ext %s\nsip %s\nrtp %s\ncons %s\nctrl %s\npbx %s\n' "$ext" "$sip" "$rtp" "$cons" "$ctrl" "$pbx" >"$d/ports"
	echo 0 >"$d/mark"
	echo 0 >"$d/mark.log"
	: >"$d/events.log"
	: >"$d/cons.log"
	touch "$d/mark.stamp"

	# the reader first: it retries until ctrl_tcp listens
	python3 "$PHONE_CTL" events --port "$ctrl" --log "$d/events.log" --account "$account" \
		--max-seconds "$PHONE_MAX_SECONDS" </dev/null >>"$d/reader.log" 2>&1 &
	rpid=$!
	[ "$PHONE_SIP_TRACE" = 1 ] && trace=(-s)
	baresip -t "$PHONE_MAX_SECONDS" "${trace[@]}" -f "$d" </dev/null >"$d/log" 2>&1 &
	bpid=$!
	printf 'pid %s\nreader %s\n' "$bpid" "$rpid" >>"$d/ports"
	_PH_NAMES+=("$name")

	end=$(( $(date +%s%3N) + 10000 ))
	while ! grep -q '^#READY' "$d/events.log"; do
		if ! kill -0 "$bpid" 2>/dev/null || ! kill -0 "$rpid" 2>/dev/null ||
		   grep -q '^#FAILED' "$d/events.log" ||
		   [ "$(date +%s%3N)" -ge "$end" ]; then
			_ph_err "phone_start $name: baresip did not come up (ports sip $sip, ctrl $ctrl)"
			_ph_tail "$name"
			phone_stop "$name"
			return 1
		fi
		sleep 0.02
	done
	return 0
}

phone_alive() {
	local p
	p=$(_ph_get "$1" pid) || return 1
	kill -0 "$p" 2>/dev/null
}

phone_port() { _ph_get "$1" sip; }

phone_uri() {
	local ext sip
	ext=$(_ph_get "$1" ext) || return 1
	sip=$(_ph_get "$1" sip) || return 1
	echo "sip:$ext@127.0.0.1:$sip"
}

# _ph_reap PID SECS: wait up to SECS for PID to end; 0 when it did
_ph_reap() {
	local p=$1 end=$(( $(date +%s%3N) + ${2%.*} * 1000 ))
	while kill -0 "$p" 2>/dev/null; do
		[ "$(date +%s%3N)" -ge "$end" ] && return 1
		sleep 0.05
	done
	wait "$p" 2>/dev/null
	return 0
}

# phone_stop NAME: /quit (2 s), SIGTERM (2 s), SIGTERM again (2 s), SIGKILL; then the reader.
# Returns 1 when baresip needed more than /quit.
phone_stop() {
	local d bpid rpid rc=0
	d=$(_ph_dir "$1") || return 1
	bpid=$(_ph_get "$1" pid) || return 1
	rpid=$(_ph_get "$1" reader)
	if kill -0 "$bpid" 2>/dev/null; then
		phone_cmd "$1" /quit >/dev/null 2>&1
		if ! _ph_reap "$bpid" 2; then
			rc=1
			_ph_err "phone_stop $1: /quit did not end baresip: SIGTERM"
			kill -TERM "$bpid" 2>/dev/null
			if ! _ph_reap "$bpid" 2; then
				kill -TERM "$bpid" 2>/dev/null
				if ! _ph_reap "$bpid" 2; then
					_ph_err "phone_stop $1: still running: SIGKILL"
					kill -KILL "$bpid" 2>/dev/null
					_ph_reap "$bpid" 2
				fi
			fi
		fi
	fi
	wait "$bpid" 2>/dev/null
	if [ -n "$rpid" ] && kill -0 "$rpid" 2>/dev/null; then
		# it ends by itself when baresip closes the connection
		if ! _ph_reap "$rpid" 1; then
			kill -TERM "$rpid" 2>/dev/null
			_ph_reap "$rpid" 2 || kill -KILL "$rpid" 2>/dev/null
		fi
	fi
	wait "$rpid" 2>/dev/null
	return $rc
}

phones_cleanup() {
	local n
	for n in "${_PH_NAMES[@]}"; do
		if phone_alive "$n" 2>/dev/null || kill -0 "$(_ph_get "$n" reader 2>/dev/null)" 2>/dev/null; then
			phone_stop "$n" 2>/dev/null
		fi
	done
	_PH_NAMES=()
	if [ "${_PH_OWN_DIR:-0}" = 1 ] && [ "${KEEP:-0}" != 1 ]; then rm -rf "$PHONES_DIR"; fi
}

# Run phones_cleanup before whatever EXIT trap was set (lib.sh's cleanup removes $WORK).
_ph_trap_cmd() { [ $# -ge 3 ] && printf '%s' "$3"; }
_PH_PREV_EXIT=$(trap -p EXIT)
_PH_PREV_EXIT=$(eval "_ph_trap_cmd $_PH_PREV_EXIT")
_ph_on_exit() {
	phones_cleanup
	[ -n "$_PH_PREV_EXIT" ] && eval "$_PH_PREV_EXIT"
}
trap _ph_on_exit EXIT

# ------------------------------------------------------------------ events

phone_mark() {
	local d
	d=$(_ph_dir "$1") || return 1
	wc -l <"$d/events.log" | tr -d ' ' >"$d/mark"
	stat -c %s "$d/log" >"$d/mark.log" 2>/dev/null || echo 0 >"$d/mark.log"
	touch "$d/mark.stamp"
}

# phone_log NAME: baresip's output (with the SIP trace: SDP of re-INVITEs) since the mark
phone_log() {
	local d
	d=$(_ph_dir "$1") || return 1
	tail -c +$(( $(cat "$d/mark.log" 2>/dev/null || echo 0) + 1 )) "$d/log"
}

phone_count() {
	local d
	d=$(_ph_dir "$1") || return 1
	awk -v m="$(_ph_mark_line "$1")" -v e="$2" 'NR > m && $1 == e {n++} END {print n + 0}' "$d/events.log"
}

phone_events() {
	local d
	d=$(_ph_dir "$1") || return 1
	awk -v m="$(_ph_mark_line "$1")" 'NR > m && !/^#/' "$d/events.log"
}

# phone_wait NAME EVENT SECS [N]: 0 as soon as N (default 1) EVENT lines follow the mark
phone_wait() {
	local name=$1 ev=$2 secs=${3:-} want=${4:-1} d start limit_ms
	d=$(_ph_dir "$name") || return 1
	case $secs in ''|*[!0-9.]*) _ph_err "phone_wait: bad timeout '$secs'"; return 1;; esac
	case $want in ''|*[!0-9]*) _ph_err "phone_wait: bad count '$want'"; return 1;; esac
	start=$(date +%s%3N)
	limit_ms=$(awk -v s="$secs" 'BEGIN{print int(s * 1000)}')
	while :; do
		[ "$(phone_count "$name" "$ev")" -ge "$want" ] && return 0
		[ "$(_ph_elapsed_ms "$start")" -ge "$limit_ms" ] && break
		if ! phone_alive "$name"; then
			_ph_err "phone_wait $name $ev: baresip is not running"
			_ph_tail "$name"
			return 1
		fi
		sleep 0.05
	done
	_ph_err "phone_wait $name $ev: $(phone_count "$name" "$ev") of $want after ${secs}s"
	_ph_tail "$name"
	return 1
}

phone_field() {
	local d
	d=$(_ph_dir "$1") || return 1
	python3 "$PHONE_CTL" fields --log "$d/events.log" --from-line "$(_ph_mark_line "$1")" \
		--type "$2" --field "$3"
}

phone_dtmf_received() { phone_field "$1" CALL_DTMF_START param | tr -d '\n'; echo; }

# ------------------------------------------------------------------ commands

# phone_cmd NAME TEXT: one console line; the console's reply goes to NAME/cons.log
phone_cmd() {
	local d cons
	d=$(_ph_dir "$1") || return 1
	cons=$(_ph_get "$1" cons) || return 1
	if ! phone_alive "$1"; then
		_ph_err "phone_cmd $1 '$2': baresip is not running"
		_ph_tail "$1"
		return 1
	fi
	{ echo "=== $(date +%T.%3N) $2"; timeout 5 python3 "$PHONE_CTL" cons --port "$cons" --wait 0.1 "$2"$'\n'; echo; } \
		>>"$d/cons.log" 2>&1
}

# _ph_target NAME TARGET: a full URI; a bare extension goes to NAME's PBX with
# its port (baresip's own completion drops the port of the account's domain)
_ph_target() {
	local pbx
	case $2 in
	*@*|sip:*|sips:*) echo "$2" ;;
	*)	pbx=$(_ph_get "$1" pbx) || return 1
		if [ "$pbx" = - ]; then
			_ph_err "phone $1 has no PBX: give a full URI instead of '$2'"
			return 1
		fi
		echo "sip:$2@$pbx" ;;
	esac
}

phone_dial() {
	local t
	t=$(_ph_target "$1" "$2") || return 1
	phone_cmd "$1" "/dial $t"
}
phone_accept() { phone_cmd "$1" /accept; }
phone_hangup() { phone_cmd "$1" /hangup; }
phone_hold() { phone_cmd "$1" /hold; }
phone_resume() { phone_cmd "$1" /resume; }
phone_transfer() {
	local t
	t=$(_ph_target "$1" "$2") || return 1
	phone_cmd "$1" "/transfer $t"
}

# phone_dtmf NAME DIGITS: each digit as a key, then the key release 0x04
phone_dtmf() {
	local d cons i c
	d=$(_ph_dir "$1") || return 1
	cons=$(_ph_get "$1" cons) || return 1
	case $2 in ''|*[!0-9*#]*) _ph_err "phone_dtmf: digits must be 0-9 * # (got '$2')"; return 1;; esac
	if [ ${#2} -gt 32 ]; then _ph_err "phone_dtmf: at most 32 digits"; return 1; fi
	if ! phone_alive "$1"; then _ph_err "phone_dtmf $1: baresip is not running"; return 1; fi
	for ((i = 0; i < ${#2}; i++)); do
		c=${2:i:1}
		timeout 2 python3 "$PHONE_CTL" cons --port "$cons" --wait 0 "$c" >/dev/null 2>&1 || return 1
		sleep "$PHONE_DTMF_HOLD"
		timeout 2 python3 "$PHONE_CTL" cons --port "$cons" --wait 0 $'\x04' >/dev/null 2>&1 || return 1
		sleep "$PHONE_DTMF_GAP"
	done
	echo "=== $(date +%T.%3N) dtmf $2" >>"$d/cons.log"
}

# ------------------------------------------------------------------ audio

# phone_recording NAME: the newest dump-*-dec.wav written since the mark
phone_recording() {
	local d f
	d=$(_ph_dir "$1") || return 1
	f=$(find "$d" -maxdepth 1 -name 'dump-*-dec.wav' -newer "$d/mark.stamp" -printf '%T@ %p\n' 2>/dev/null |
		sort -rn | head -1 | cut -d' ' -f2-)
	if [ -z "$f" ]; then
		_ph_err "phone_recording $1: no recording since the mark (did a call with audio take place?)"
		ls -l "$d"/dump-* 2>/dev/null | sed 's/^/#   /' >&2
		return 1
	fi
	echo "$f"
}

# phone_wait_audio NAME SECS [TIMEOUT]: wait until NAME's recording since the mark
# holds SECS seconds of what it heard (default bound: SECS + 5 s)
phone_wait_audio() {
	local name=$1 secs=${2:-} limit=${3:-} f have="" start limit_ms
	case $secs in ''|*[!0-9.]*) _ph_err "phone_wait_audio: bad duration '$secs'"; return 1;; esac
	[ -n "$limit" ] || limit=$(awk -v s="$secs" 'BEGIN{print s + 5}')
	limit_ms=$(awk -v s="$limit" 'BEGIN{print int(s * 1000)}')
	start=$(date +%s%3N)
	while :; do
		if f=$(phone_recording "$name" 2>/dev/null) && have=$(wav_seconds "$f" 2>/dev/null) &&
		   awk -v h="$have" -v s="$secs" 'BEGIN{exit !(h >= s)}'; then
			return 0
		fi
		if [ "$(_ph_elapsed_ms "$start")" -ge "$limit_ms" ]; then
			_ph_err "phone_wait_audio $name: ${have:-no} seconds of audio after ${limit}s, want $secs (${f:-no recording})"
			_ph_tail "$name"
			return 1
		fi
		sleep 0.1
	done
}

# assert_hears NAME FREQ [TRIM_START [TRIM_LEN]]: NAME's newest recording holds FREQ
assert_hears() { _ph_assert_band "$1" "$2" '>' "$PHONE_HEARS_MIN" "${@:3}"; }

# assert_not_hears NAME FREQ [TRIM_START [TRIM_LEN]]: ... and not this one
assert_not_hears() { _ph_assert_band "$1" "$2" '<' "$PHONE_SILENT_MAX" "${@:3}"; }

_ph_assert_band() {
	local name=$1 freq=$2 op=$3 bound=$4 f lvl verb=hears
	[ "$op" = '<' ] && verb="does not hear"
	f=$(phone_recording "$name") || return 1
	lvl=$(band_level "$f" "$freq" "${@:5}") || return 1
	if awk -v l="$lvl" -v b="$bound" -v o="$op" 'BEGIN{exit !(o == ">" ? l > b : l < b)}'; then
		echo "# $name $verb $freq Hz: level $lvl (want $op $bound) in $(basename "$f")" >&2
		return 0
	fi
	echo "# $name $verb $freq Hz: FAILED, level $lvl (want $op $bound) in $f" >&2
	return 1
}
