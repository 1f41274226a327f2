#!/bin/sh
# build.sh: turn the prompt texts into the audio the player reads.
#
#   prompts/build.sh [SRC_DIR [OUT_DIR]]     (defaults: prompts build/prompts)
#
# Each SRC_DIR/NAME.txt (one line of English) becomes OUT_DIR/NAME.wav: 8 kHz
# mono 16-bit PCM WAV (what media/prompt.c loads), spoken by flite's "slt"
# voice at 16 kHz, then resampled and normalised to -6 dBFS peak by sox.
# No recorded audio is committed; the beep is synthesised by prompt.c.
# A prompt is made again only when its text (or this script) is newer than
# its audio. Each file is written under a temporary name and renamed, so an
# interrupted build never leaves a half file that looks finished.
set -eu

src=${1:-prompts}
out=${2:-build/prompts}
voice=${FLITE_VOICE:-slt}

for tool in flite:flite sox:sox; do
	if ! command -v "${tool%%:*}" >/dev/null 2>&1; then
		echo "prompts: ${tool%%:*} not found (Debian package: ${tool#*:})" >&2
		exit 1
	fi
done
if [ ! -d "$src" ]; then
	echo "prompts: no folder $src" >&2
	exit 1
fi
mkdir -p "$out"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/prompts.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

made=0
for txt in "$src"/*.txt; do
	[ -e "$txt" ] || continue
	name=$(basename "$txt" .txt)
	case $name in
	*[!a-z0-9_]*|'')
		echo "prompts: $txt: name must be [a-z0-9_]" >&2
		exit 1 ;;
	esac
	wav=$out/$name.wav
	# Made again when its text or this script changed since.
	if [ -f "$wav" ] && [ -z "$(find "$txt" "$0" -newer "$wav")" ]; then
		continue
	fi
	if [ ! -s "$txt" ]; then
		echo "prompts: $txt is empty" >&2
		exit 1
	fi
	flite -voice "$voice" -f "$txt" -o "$tmp/$name.raw.wav"
	# -D: no dither, so the same text always gives the same bytes.
	sox -D "$tmp/$name.raw.wav" -r 8000 -c 1 -b 16 -e signed-integer "$tmp/$name.wav" gain -n -6
	mv -f "$tmp/$name.wav" "$wav"
	made=$((made + 1))
done
echo "prompts: $made made in $out"
