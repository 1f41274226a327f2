# audio.sh: tones in, tone levels out (sourced by tests/sip/phone.sh, usable alone).
#
# Every talker in a call test plays its own sine (440, 1000, 1700 Hz ...); a
# recording proves who was heard by the level in a narrow band around each
# talker's frequency: about 0.35 RMS for a 0.5-volume sine that arrived, below
# 0.002 for one that did not. Functions print errors to stderr as "# ..." lines
# (TAP diagnostics) and keep stdout for their result.

# band_level WAV FREQ [TRIM_START [TRIM_LEN]]: prints the RMS amplitude of the
# first channel of WAV in FREQ±40 Hz, from TRIM_START seconds (default
# $AUDIO_TRIM_START, 0.5: skips the call set-up and the filter's run-in) for
# TRIM_LEN seconds (default: to the end). Fails on a missing, unreadable or too
# short file. Works on a WAV that is still being written (see _audio_readable).
AUDIO_TRIM_START=${AUDIO_TRIM_START:-0.5}
AUDIO_BAND_HALF=40
AUDIO_MIN_SECONDS=0.5	# less audio than this after the trim measures nothing useful

band_level() {
	local wav=$1 freq=$2 start=${3:-$AUDIO_TRIM_START} len=() src dur lvl lo hi
	[ -n "${4:-}" ] && len=("$4")
	if [ ! -s "$wav" ]; then
		echo "# band_level: no recording '$wav'" >&2
		return 1
	fi
	case $freq in ''|*[!0-9]*) echo "# band_level: bad frequency '$freq'" >&2; return 1;; esac
	src=$(_audio_readable "$wav") || return 1
	dur=$(soxi -D "$src" 2>/dev/null)
	if [ -z "$dur" ] || ! awk -v d="$dur" -v s="$start" -v m="$AUDIO_MIN_SECONDS" 'BEGIN{exit !(d >= s + m)}'; then
		echo "# band_level: $wav holds ${dur:-?} s of audio, need at least $start + $AUDIO_MIN_SECONDS s" >&2
		[ "$src" != "$wav" ] && rm -f "$src"
		return 1
	fi
	lo=$((freq - AUDIO_BAND_HALF))
	hi=$((freq + AUDIO_BAND_HALF))
	[ "$lo" -lt 1 ] && lo=1
	lvl=$(timeout 20 sox "$src" -n remix 1 trim "$start" "${len[@]}" sinc -n 8192 "$lo-$hi" stat 2>&1 |
		awk '/RMS +amplitude/{print $3}')
	[ "$src" != "$wav" ] && rm -f "$src"
	if [ -z "$lvl" ]; then
		echo "# band_level: sox could not measure $wav" >&2
		return 1
	fi
	echo "$lvl"
}

# _audio_readable WAV: prints a file sox can read with the samples written so far.
# baresip's sndfile module fills in the WAV header's sizes only when the call
# ends; while a call runs the header claims no data. Such a file is copied with
# its sizes fixed to the bytes present (a temporary file the caller removes).
_audio_readable() {
	python3 - "$1" <<'EOF'
import os, struct, sys, tempfile
path = sys.argv[1]
with open(path, 'rb') as f:
    data = f.read()
if len(data) < 12 or data[:4] != b'RIFF' or data[8:12] != b'WAVE':
    sys.stderr.write('# band_level: %s is not a WAV file\n' % path)
    sys.exit(1)
pos, fixed = 12, bytearray(data)
while pos + 8 <= len(data):
    cid, size = data[pos:pos + 4], struct.unpack('<I', data[pos + 4:pos + 8])[0]
    if cid == b'data':
        have = len(data) - pos - 8
        if size == have or (size < have and size > 0):
            print(path)            # complete: use it as it is
            sys.exit(0)
        have -= have % 4
        struct.pack_into('<I', fixed, pos + 4, have)
        struct.pack_into('<I', fixed, 4, pos + 8 + have - 8)
        fd, tmp = tempfile.mkstemp(suffix='.wav', dir=os.path.dirname(path) or '.')
        with os.fdopen(fd, 'wb') as out:
            out.write(bytes(fixed[:pos + 8 + have]))
        print(tmp)
        sys.exit(0)
    pos += 8 + size + (size & 1)
sys.stderr.write('# band_level: %s has no data chunk\n' % path)
sys.exit(1)
EOF
}

# wav_seconds WAV: seconds of audio written so far (header's format, file's size)
wav_seconds() {
	python3 - "$1" <<'EOF2'
import struct, sys
try:
    data = open(sys.argv[1], 'rb').read(1 << 16)
    size = __import__('os').path.getsize(sys.argv[1])
except OSError as e:
    sys.stderr.write('# wav_seconds: %s\n' % e)
    sys.exit(1)
pos, rate, ch, bits = 12, 0, 0, 0
while pos + 8 <= len(data) and data[:4] == b'RIFF':
    cid, n = data[pos:pos + 4], struct.unpack('<I', data[pos + 4:pos + 8])[0]
    if cid == b'fmt ' and pos + 24 <= len(data):
        ch, rate = struct.unpack('<HI', data[pos + 10:pos + 16])
        bits = struct.unpack('<H', data[pos + 22:pos + 24])[0]
    elif cid == b'data':
        if rate and ch and bits:
            print('%.3f' % ((size - pos - 8) / float(rate * ch * bits // 8)))
            sys.exit(0)
        break
    pos += 8 + n + (n & 1)
sys.stderr.write('# wav_seconds: %s is not a PCM WAV file\n' % sys.argv[1])
sys.exit(1)
EOF2
}

# make_tone FREQ RATE OUT.wav [SECONDS] [VOL]: a mono S16LE sine (FREQ 0: silence).
# Default 60 s at volume 0.5. baresip's aufile source ends the call when its
# file runs out, so the tone must outlast the call.
make_tone() {
	local freq=$1 rate=$2 out=$3 secs=${4:-60} vol=${5:-0.5}
	case $freq in ''|*[!0-9]*) echo "# make_tone: bad frequency '$freq'" >&2; return 1;; esac
	if [ "$freq" = 0 ]; then
		timeout 20 sox -n -r "$rate" -c 1 -e signed-integer -b 16 "$out" trim 0 "$secs"
	else
		timeout 20 sox -n -r "$rate" -c 1 -e signed-integer -b 16 "$out" synth "$secs" sine "$freq" vol "$vol"
	fi
	if [ ! -s "$out" ]; then
		echo "# make_tone: sox did not write $out" >&2
		return 1
	fi
}

# band_above WAV FREQ MIN [TRIM_START [TRIM_LEN]] / band_below WAV FREQ MAX ...:
# the FREQ band level compared with a bound; the measured value is printed
# as a "# " line either way.
band_above() {
	local wav=$1 freq=$2 min=$3 lvl
	lvl=$(band_level "$wav" "$freq" "${@:4}") || return 1
	if awk -v l="$lvl" -v m="$min" 'BEGIN{exit !(l > m)}'; then
		echo "# $freq Hz in $(basename "$wav"): $lvl (want > $min)" >&2
		return 0
	fi
	echo "# $freq Hz in $wav: $lvl, want > $min" >&2
	return 1
}

band_below() {
	local wav=$1 freq=$2 max=$3 lvl
	lvl=$(band_level "$wav" "$freq" "${@:4}") || return 1
	if awk -v l="$lvl" -v m="$max" 'BEGIN{exit !(l < m)}'; then
		echo "# $freq Hz in $(basename "$wav"): $lvl (want < $max)" >&2
		return 0
	fi
	echo "# $freq Hz in $wav: $lvl, want < $max" >&2
	return 1
}
