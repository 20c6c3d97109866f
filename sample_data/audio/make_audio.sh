#!/usr/bin/env bash
# Rebuild the audio samples in this folder (espeak-ng speech + one freedesktop sound) and transcripts.json.
#
#   apt-get install -y espeak-ng sox sound-theme-freedesktop
#   sample_data/audio/make_audio.sh
#
# Speech: espeak-ng voice en-us at 150 words/min, trimmed of espeak's own leading/trailing silence, padded
# with LEAD seconds of silence before and TRAIL after, mono 16 kHz. The sentence starts at LEAD seconds and
# ends at LEAD + its spoken length; both are written to transcripts.json. Built with espeak-ng 1.51 and
# SoX 14.4.2 (Debian 12); other versions give the same words with slightly different timings.
set -euo pipefail
cd "$(dirname "$0")"
export LC_ALL=C
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

entries=()

speak() {  # speak OUTFILE LEAD TRAIL "sentence"
    local out=$1 lead=$2 trail=$3 text=$4
    espeak-ng -v en-us -s 150 -w "$tmp/raw.wav" "$text"
    # trim leading and trailing silence (below 0.1 % for 10 ms), then pad
    sox "$tmp/raw.wav" -r 16000 -c 1 "$tmp/trim.wav" \
        silence 1 0.01 0.1% reverse silence 1 0.01 0.1% reverse
    local spoken
    spoken=$(soxi -D "$tmp/trim.wav")
    sox "$tmp/trim.wav" "$out" pad "$lead" "$trail"
    local end
    end=$(awk -v a="$lead" -v b="$spoken" 'BEGIN { printf "%.2f", a + b }')
    entries+=("$(printf '  {"file": "%s", "kind": "speech", "segments": [{"start": %.2f, "end": %s, "text": "%s"}]}' \
        "$out" "$lead" "$end" "$text")")
}

speak meeting_budget.ogg 2.0 1.0 "In today's meeting we agreed that we need to cut the marketing budget next quarter."
speak hiking_trip.flac 1.0 0.5 "Last weekend we hiked to the top of the mountain and watched the sun rise over the lake."
speak soup_recipe.ogg 1.5 0.5 "To make the soup, chop two onions, add the tomatoes, and let it simmer for twenty minutes."

# non-speech sounds from Debian's sound-theme-freedesktop (see /usr/share/doc/sound-theme-freedesktop/copyright):
# bell.oga (0.14 s, CC-BY-3.0, Dr. Richard Boulanger et al.), alarm-clock-elapsed.oga (6.1 s, CC-BY-SA-3.0, Tim/corsica_s)
cp /usr/share/sounds/freedesktop/stereo/bell.oga bell.oga
cp /usr/share/sounds/freedesktop/stereo/alarm-clock-elapsed.oga alarm_clock.oga
entries+=('  {"file": "bell.oga", "kind": "sound", "description": "a short bell ding", "segments": []}')
entries+=('  {"file": "alarm_clock.oga", "kind": "sound", "description": "an alarm clock ringing", "segments": []}')

{
    echo "["
    for i in "${!entries[@]}"; do
        sep=","
        [ "$i" -eq $((${#entries[@]} - 1)) ] && sep=""
        echo "${entries[$i]}$sep"
    done
    echo "]"
} > transcripts.json
ls -l ./*.ogg ./*.flac ./*.oga transcripts.json
