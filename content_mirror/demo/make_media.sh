#!/usr/bin/env bash
# make_media.sh: regenerate every binary file of the Sanduq demo library from text inputs.
#
# Run from anywhere:  content_mirror/demo/make_media.sh
# Writes into content_mirror/demo/source/media/ (the generated files are committed; this
# script documents how they were made and can be rerun to remake them).
#
# Needs (Debian 12 packages):
#   ffmpeg       built with libx264, libmp3lame, libfreetype (drawtext) and librsvg (SVG input)
#   espeak-ng    narration voices ru, en-us and ky (see "Tajik narration" below)
#   fonts-dejavu-core   DejaVu Sans, which has Tajik Cyrillic letters and the shape glyphs
#   python3      only to read pages.csv (the book page texts) with the csv module
#   zip          optional; without it the game is zipped with python3's zipfile
#
# Inputs (all text):
#   source/media/video/*.LANG.vtt   subtitles; they are ALSO the narration script and the
#                                   timing of every video scene (cue N = scene N)
#   art/*.svg                       pictures drawn into the colour and song videos
#   narration/*.LANG.txt            the audio items, one spoken line per line;
#                                   a line "[clap]" inserts three hand claps
#   source/pages.csv                book page texts (text_LANG) and where each page's
#                                   narration goes (narration_LANG)
#   game-counting/                  the HTML5 counting game, zipped as-is
#   bloom-NAME/                     a Bloom talking book (NAME.htm, meta.json, CSS, SVGs):
#                                   zipped with audio/ID.mp3 spoken from each sentence of
#                                   NAME.htm into media/books/NAME.bloompub
#   the whole source/               drawn into takehome/ (files phones save; see make_takehome)
#
# Tajik narration: espeak-ng has no Tajik voice. Tajik text is respelled for the Kyrgyz
# voice (ky): ҷ->ж (ky reads it [dʒ]), қ->к and ғ->г (ky makes them uvular before back
# vowels, as in Tajik), ҳ->х, ӯ->ө, ӣ->и. The ky voice also keeps Tajik's final stress and
# does not reduce unstressed "о" to "а" as the ru voice does, so it sounds nearer to Tajik
# than the ru voice reading the same text. It is still a robot accent: replace the tg
# recordings with a native speaker's when one is available (same file names).
#
# Determinism: metadata is stripped (-map_metadata -1, -fflags/-flags +bitexact), x264 runs
# with one thread, the noise source has a fixed seed and the zip has fixed dates, so a rerun
# with the same tool versions gives the same bytes.
set -euo pipefail
export LC_ALL=C.UTF-8

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC="$HERE/source"
MEDIA="$SRC/media"
ART="$HERE/art"
NARR="$HERE/narration"
GAME_DIR="$HERE/game-counting"
FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
FONT_BOLD=/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf
LANGS=(tg ru en)

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

die() { printf 'make_media.sh: %s\n' "$*" >&2; exit 1; }

# Zipping the game needs only python3; everything else needs the media tools and fonts.
if [[ ${1:-all} != game ]]; then
  for tool in ffmpeg ffprobe espeak-ng python3; do
    command -v "$tool" >/dev/null || die "$tool is missing (apt-get install -y ffmpeg espeak-ng python3)"
  done
  for f in "$FONT" "$FONT_BOLD"; do
    [[ -f $f ]] || die "$f is missing (apt-get install -y fonts-dejavu-core)"
  done
fi

# Common output options: no metadata, no encoder strings, one thread.
FF=(ffmpeg -nostdin -hide_banner -loglevel error -y)
BITEXACT=(-map_metadata -1 -fflags +bitexact -flags +bitexact)

# ---------------------------------------------------------------- helpers

# duration FILE -> seconds
duration() { ffprobe -v error -show_entries format=duration -of csv=p=0 "$1"; }

# speak LANG TEXT OUT.wav: espeak-ng narration (22.05 kHz mono WAV).
speak() {
  local lang=$1 text=$2 out=$3
  case $lang in
    tg) text=$(printf '%s' "$text" | sed -e 's/ҷ/ж/g; s/Ҷ/Ж/g; s/қ/к/g; s/Қ/К/g; s/ғ/г/g; s/Ғ/Г/g' \
                                       -e 's/ҳ/х/g; s/Ҳ/Х/g; s/ӯ/ө/g; s/Ӯ/Ө/g; s/ӣ/и/g; s/Ӣ/И/g')
        espeak-ng -v ky -s 145 -p 55 -a 80 -w "$out" -- "$text" ;;
    ru) espeak-ng -v ru -s 135 -p 55 -a 80 -w "$out" -- "$text" ;;
    en) espeak-ng -v en-us -s 140 -p 55 -a 80 -w "$out" -- "$text" ;;
    *) die "no voice for language $lang" ;;
  esac
}

# vtt_cues FILE: one line per cue, "START<TAB>END<TAB>TEXT" (seconds; text lines joined).
vtt_cues() {
  tr -d '\r' <"$1" | awk '
    function secs(ts,   n, p) {
      n = split(ts, p, ":")
      return (n == 3) ? p[1] * 3600 + p[2] * 60 + p[3] : p[1] * 60 + p[2]
    }
    function flush() { if (have) printf "%.3f\t%.3f\t%s\n", start, stop, text; have = 0 }
    / --> / { flush(); start = secs($1); stop = secs($3); text = ""; have = 1; next }
    /^[ \t]*$/ { flush(); next }
    have { text = (text == "" ? $0 : text " " $0) }
    END { flush() }'
}

# melody SECONDS OUT.wav: a quiet plucked tune in C major (16 notes of 0.375 s, looped),
# an aevalsrc expression; used under the song video and the finger rhyme.
melody() {
  local secs=$1 out=$2 freq=0 i
  local notes=(523.25 659.25 783.99 659.25 587.33 698.46 783.99 0
               659.25 587.33 523.25 587.33 659.25 659.25 523.25 0)
  # freq = the frequency of note number ld(0), as nested if()s
  for ((i = ${#notes[@]} - 1; i >= 0; i--)); do
    freq="if(eq(ld(0),$i),${notes[i]},$freq)"
  done
  local env="min(1,mod(t,0.375)*80)*exp(-6*mod(t,0.375))"
  "${FF[@]}" -f lavfi \
    -i "aevalsrc=exprs='st(0,mod(floor(t/0.375),${#notes[@]}));0.09*sin(2*PI*t*$freq)*$env':s=22050:c=mono:d=$secs" \
    "${BITEXACT[@]}" -c:a pcm_s16le "$out"
}

# claps OUT.wav: three hand claps (seeded pink-noise bursts, 0.4 s apart).
claps() {
  "${FF[@]}" -f lavfi -i "anoisesrc=d=0.4:c=pink:r=22050:a=0.9:seed=7" \
    -af "highpass=f=900,afade=t=out:st=0:d=0.12,apad=whole_dur=0.4" \
    "${BITEXACT[@]}" -c:a pcm_s16le "$TMP/clap1.wav"
  "${FF[@]}" -i "$TMP/clap1.wav" -i "$TMP/clap1.wav" -i "$TMP/clap1.wav" \
    -filter_complex "[0:a][1:a][2:a]concat=n=3:v=0:a=1[a]" -map "[a]" \
    "${BITEXACT[@]}" -c:a pcm_s16le "$1"
}

# mp3 IN.wav OUT.mp3 KBPS: mono MP3, 22.05 kHz, no tags.
mp3() {
  mkdir -p "$(dirname "$2")"
  "${FF[@]}" -i "$1" -ac 1 -ar 22050 -c:a libmp3lame -b:a "$3k" \
    -id3v2_version 0 -write_id3v1 0 "${BITEXACT[@]}" "$2"
}

# vtt_narration LANG VTT TOTAL OUT.wav [BED.wav]: speak each cue at its start time;
# refuse a cue whose speech runs past its end (then lengthen the cue in the .vtt).
vtt_narration() {
  local lang=$1 vtt=$2 total=$3 out=$4 bed=${5:-}
  local inputs=() filter="" labels="" n=0 start stop text d
  while IFS=$'\t' read -r start stop text; do
    speak "$lang" "$text" "$TMP/cue$n.wav"
    d=$(duration "$TMP/cue$n.wav")
    # espeak ends each clip with about 0.3 s of silence, which may overlap the next cue
    awk -v d="$d" -v a="$start" -v b="$stop" 'BEGIN { exit !(d - 0.3 <= b - a) }' ||
      die "$vtt: cue at $start s needs ${d} s of speech but lasts $(awk -v a="$start" -v b="$stop" 'BEGIN { print b - a }') s"
    inputs+=(-i "$TMP/cue$n.wav")
    filter+="[$n:a]adelay=delays=$(awk -v a="$start" 'BEGIN { printf "%d", a * 1000 }'):all=1[c$n];"
    labels+="[c$n]"
    n=$((n + 1))
  done < <(vtt_cues "$vtt")
  ((n > 0)) || die "$vtt has no cues"
  if [[ -n $bed ]]; then
    inputs+=(-i "$bed")
    labels+="[$n:a]"
    n=$((n + 1))
  fi
  filter+="${labels}amix=inputs=$n:normalize=0:duration=longest,apad=whole_dur=$total,atrim=0:${total}[a]"
  "${FF[@]}" "${inputs[@]}" -filter_complex "$filter" -map "[a]" -ac 1 -ar 22050 \
    "${BITEXACT[@]}" -c:a pcm_s16le "$out"
}

# text_file NAME TEXT -> path of a file holding TEXT (drawtext reads it; no escaping needed)
text_file() { printf '%s' "$2" >"$TMP/$1.txt"; printf '%s' "$TMP/$1.txt"; }

# between A B -> drawtext/overlay enable expression
between() { printf "enable='between(t,%s,%s)'" "$1" "$2"; }

# cue_times VTT N -> "START END" of the N-th cue (1-based)
cue_times() { vtt_cues "$1" | awk -F'\t' -v n="$2" 'NR == n { print $1, $2 }'; }

# encode_video GRAPH_FILE AUDIO.wav TOTAL OUT.mp4 [SVG...]: H.264 main 3.0 + AAC mono.
encode_video() {
  local graph=$1 audio=$2 total=$3 out=$4 svg
  shift 4
  local inputs=(-f lavfi -i "color=c=0xFFF8E1:s=640x360:r=24:d=$total")
  for svg in "$@"; do inputs+=(-i "$svg"); done
  inputs+=(-i "$audio")
  mkdir -p "$(dirname "$out")"
  "${FF[@]}" "${inputs[@]}" -filter_complex_script "$graph" \
    -map "[v]" -map "$(($# + 1)):a" -t "$total" \
    -c:v libx264 -profile:v main -level:v 3.0 -preset slow -tune animation -crf 30 \
    -pix_fmt yuv420p -g 48 -threads 1 \
    -c:a aac -b:a 32k -ac 1 -ar 22050 \
    -movflags +faststart "${BITEXACT[@]}" "$out"
}

# poster IN.mp4 SECONDS OUT.jpg: one frame, 320x180.
poster() {
  "${FF[@]}" -ss "$2" -i "$1" -frames:v 1 -vf scale=320:180 -q:v 6 "${BITEXACT[@]}" "$3"
}

# ---------------------------------------------------------------- video 1: counting 1-5
# Scene 1 shows the digits 1-5, scenes 2-6 show N shapes and the digit N, scene 7 all.
SHAPE_GLYPHS=("●" "▲" "■" "★" "♥")
SHAPE_COLOURS=(0xE53935 0xFB8C00 0x1E88E5 0xF9A825 0xD81B60)

counting_graph() {
  local vtt=$1 out=$2 g="[0:v]" i n a b row k
  read -r a b < <(cue_times "$vtt" 1)
  for i in 0 1 2 3 4; do
    g+="drawtext=fontfile=$FONT_BOLD:textfile=$(text_file "d$i" "$((i + 1))"):fontsize=110"
    g+=":fontcolor=${SHAPE_COLOURS[i]}:x=$((320 + (i - 2) * 110))-text_w/2"
    g+=":y=(h-text_h)/2+14*sin(6*t+$i):$(between "$a" "$b"),"
  done
  for n in 1 2 3 4 5; do
    read -r a b < <(cue_times "$vtt" $((n + 1)))
    row=""
    for ((k = 0; k < n; k++)); do row+="${SHAPE_GLYPHS[n - 1]} "; done
    g+="drawtext=fontfile=$FONT_BOLD:textfile=$(text_file "n$n" "$n"):fontsize=120"
    g+=":fontcolor=0x37474F:x=(w-text_w)/2:y=20:$(between "$a" "$b"),"
    g+="drawtext=fontfile=$FONT:textfile=$(text_file "row$n" "${row% }"):fontsize=110"
    g+=":fontcolor=${SHAPE_COLOURS[n - 1]}:x=(w-text_w)/2:y=175+8*sin(6*t):$(between "$a" "$b"),"
  done
  read -r a b < <(cue_times "$vtt" 7)
  for i in 0 1 2 3 4; do
    g+="drawtext=fontfile=$FONT_BOLD:textfile=$TMP/d$i.txt:fontsize=90"
    g+=":fontcolor=${SHAPE_COLOURS[i]}:x=$((320 + (i - 2) * 110))-text_w/2:y=40:$(between "$a" "$b"),"
    g+="drawtext=fontfile=$FONT:textfile=$(text_file "s$i" "${SHAPE_GLYPHS[i]}"):fontsize=100"
    g+=":fontcolor=${SHAPE_COLOURS[i]}:x=$((320 + (i - 2) * 110))-text_w/2"
    g+=":y=185+12*sin(6*t+$i):$(between "$a" "$b"),"
  done
  printf '%snull[v]\n' "$g" >"$out"
}

# ---------------------------------------------------------------- video 2: colours
# Scene 1: four coloured balls; scenes 2-5: apple, sun, ball, leaf and the colour's name;
# scene 6: the four pictures together.
declare -A COLOUR_WORDS=(
  [tg]="Сурх Зард Кабуд Сабз"
  [ru]="Красный Жёлтый Синий Зелёный"
  [en]="Red Yellow Blue Green"
)
COLOURS=(0xE53935 0xF9A825 0x1E88E5 0x43A047)
COLOUR_ART=(apple sun ball leaf)

colours_graph() {
  local vtt=$1 lang=$2 out=$3 g="" i a b
  local -a words
  read -r -a words <<<"${COLOUR_WORDS[$lang]}"
  # inputs 1-4 are the SVGs; make a big and a small copy of each
  for i in 0 1 2 3; do
    g+="[$((i + 1)):v]split[big$i][sm$i];[sm$i]scale=110:110[small$i];"
  done
  read -r a b < <(cue_times "$vtt" 1)
  g+="[0:v]"
  for i in 0 1 2 3; do
    g+="drawtext=fontfile=$FONT:textfile=$(text_file "ball$i" "●"):fontsize=130"
    g+=":fontcolor=${COLOURS[i]}:x=$((320 + i * 140 - 210))-text_w/2"
    g+=":y=(h-text_h)/2+14*sin(6*t+$i):$(between "$a" "$b"),"
  done
  for i in 0 1 2 3; do
    read -r a b < <(cue_times "$vtt" $((i + 2)))
    g+="drawtext=fontfile=$FONT_BOLD:textfile=$(text_file "word$i" "${words[i]}"):fontsize=64"
    g+=":fontcolor=${COLOURS[i]}:borderw=2:bordercolor=0x5D4037:x=(w-text_w)/2:y=262"
    g+=":$(between "$a" "$b")"
    g+="[bg$i];[bg$i][big$i]overlay=x=(W-w)/2:y=40+6*sin(5*t):$(between "$a" "$b")[v$i];[v$i]"
  done
  read -r a b < <(cue_times "$vtt" 6)
  for i in 0 1 2 3; do
    g+="null[w$i];[w$i][small$i]overlay=x=$((320 + i * 140 - 210 - 55)):y=125+10*sin(6*t+$i)"
    g+=":$(between "$a" "$b")[o$i];[o$i]"
  done
  printf '%snull[v]\n' "$g" >"$out"
}

# ---------------------------------------------------------------- video 3: hello song
# A smiling sun bounces to the tune; the background colour changes with each line;
# music notes drift across. Audio: the spoken lines over the melody() tune.
SONG_BG=(0xFFF8E1 0xE1F5FE 0xF1F8E9 0xFCE4EC 0xFFF3E0)

song_graph() {
  local vtt=$1 out=$2 g="[0:v]" i a b
  for i in 0 1 2 3 4; do
    read -r a b < <(cue_times "$vtt" $((i + 1)))
    g+="drawbox=x=0:y=0:w=iw:h=ih:t=fill:color=${SONG_BG[i]}:$(between "$a" "$b"),"
  done
  g+="drawtext=fontfile=$FONT:textfile=$(text_file note1 "♪"):fontsize=60:fontcolor=0x8E24AA"
  g+=":x=mod(t*70\\,720)-60:y=60+20*sin(3*t),"
  g+="drawtext=fontfile=$FONT:textfile=$(text_file note2 "♫"):fontsize=60:fontcolor=0x00897B"
  g+=":x=640-mod(t*55+200\\,720):y=250+20*sin(4*t),"
  g+="drawtext=fontfile=$FONT:textfile=$(text_file note3 "♪"):fontsize=44:fontcolor=0xF4511E"
  g+=":x=mod(t*40+400\\,720)-60:y=160+30*sin(2*t)[bg];"
  g+="[bg][1:v]overlay=x=(W-w)/2:y=(H-h)/2-abs(30*sin(PI*t/0.75))+15[v]"
  printf '%s\n' "$g" >"$out"
}

make_videos() {
  local lang vtt total art svgs=()
  for art in "${COLOUR_ART[@]}"; do svgs+=("$ART/$art.svg"); done
  for lang in "${LANGS[@]}"; do
    # counting: narration only
    vtt="$MEDIA/video/counting-1-5.$lang.vtt"
    total=19
    vtt_narration "$lang" "$vtt" "$total" "$TMP/counting.$lang.wav"
    counting_graph "$vtt" "$TMP/counting.graph"
    encode_video "$TMP/counting.graph" "$TMP/counting.$lang.wav" "$total" \
      "$MEDIA/video/counting-1-5.$lang.mp4"

    # colours: narration only
    vtt="$MEDIA/video/colours.$lang.vtt"
    total=18
    vtt_narration "$lang" "$vtt" "$total" "$TMP/colours.$lang.wav"
    colours_graph "$vtt" "$lang" "$TMP/colours.graph"
    encode_video "$TMP/colours.graph" "$TMP/colours.$lang.wav" "$total" \
      "$MEDIA/video/colours.$lang.mp4" "${svgs[@]}"

    # hello song: the spoken lines over the tune
    vtt="$MEDIA/video/hello-song.$lang.vtt"
    total=16.5
    melody "$total" "$TMP/tune.wav"
    vtt_narration "$lang" "$vtt" "$total" "$TMP/song.$lang.wav" "$TMP/tune.wav"
    song_graph "$vtt" "$TMP/song.graph"
    encode_video "$TMP/song.graph" "$TMP/song.$lang.wav" "$total" \
      "$MEDIA/video/hello-song.$lang.mp4" "$ART/smile-sun.svg"
  done
  # posters: frames without words, so one poster serves every language
  poster "$MEDIA/video/counting-1-5.en.mp4" 13.0 "$MEDIA/video/counting-1-5.jpg"
  poster "$MEDIA/video/colours.en.mp4" 15.0 "$MEDIA/video/colours.jpg"
  poster "$MEDIA/video/hello-song.en.mp4" 1.0 "$MEDIA/video/hello-song.jpg"
}

# ---------------------------------------------------------------- audio items
# narration/NAME.LANG.txt -> media/audio/NAME.LANG.mp3; each line spoken, 0.35 s apart.
make_audio_item() {
  local name=$1 lang=$2 bed=$3 line n=0 list="$TMP/list.txt" total
  : >"$list"
  "${FF[@]}" -f lavfi -i "anullsrc=r=22050:cl=mono" -t 0.35 "${BITEXACT[@]}" -c:a pcm_s16le "$TMP/gap.wav"
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line%$'\r'}
    [[ -n $line ]] || continue
    if [[ $line == "[clap]" ]]; then
      claps "$TMP/line$n.wav"
    else
      speak "$lang" "$line" "$TMP/line$n.wav"
    fi
    printf "file '%s'\nfile '%s'\n" "$TMP/line$n.wav" "$TMP/gap.wav" >>"$list"
    n=$((n + 1))
  done <"$NARR/$name.$lang.txt"
  "${FF[@]}" -f concat -safe 0 -i "$list" "${BITEXACT[@]}" -c:a pcm_s16le "$TMP/speech.wav"
  if [[ $bed == tune ]]; then
    total=$(duration "$TMP/speech.wav")
    melody "$total" "$TMP/tune.wav"
    "${FF[@]}" -i "$TMP/speech.wav" -i "$TMP/tune.wav" \
      -filter_complex "[0:a][1:a]amix=inputs=2:normalize=0:duration=first[a]" -map "[a]" \
      "${BITEXACT[@]}" -c:a pcm_s16le "$TMP/mixed.wav"
    mv "$TMP/mixed.wav" "$TMP/speech.wav"
  fi
  mp3 "$TMP/speech.wav" "$MEDIA/audio/$name.$lang.mp3" 32
}

make_audio() {
  local lang
  for lang in "${LANGS[@]}"; do
    make_audio_item little-seed "$lang" none
    make_audio_item five-fingers "$lang" tune
  done
}

# ---------------------------------------------------------------- book narration
# Every pages.csv row with a narration_LANG path gets text_LANG read aloud into that path.
make_book_narration() {
  local path text lang
  while IFS=$'\t' read -r lang path text; do
    speak "$lang" "$text" "$TMP/page.wav"
    mp3 "$TMP/page.wav" "$SRC/$path" 24
  done < <(python3 - "$SRC/pages.csv" <<'PY'
import csv, sys
with open(sys.argv[1], encoding="utf-8-sig", newline="") as f:
    for row in csv.DictReader(f):
        for col, path in row.items():
            if col.startswith("narration_") and path:
                lang = col.split("_", 1)[1]
                text = " ".join(row["text_" + lang].split())
                print(lang, path, text, sep="\t")
PY
  )
}

# ---------------------------------------------------------------- game
# game-counting/ -> media/games/counting.zip with fixed dates, modes and order.
make_game() {
  local out="$MEDIA/games/counting.zip" f
  rm -rf "$TMP/game" && mkdir -p "$TMP/game" "$(dirname "$out")"
  cp "$GAME_DIR"/* "$TMP/game/"
  chmod 644 "$TMP"/game/*
  TZ=UTC touch -d "2026-01-01 00:00:00" "$TMP"/game/*
  rm -f "$out"
  if command -v zip >/dev/null; then
    (cd "$TMP/game" && for f in *; do TZ=UTC zip -q -X -9 "$out" "$f"; done)
  else
    python3 - "$TMP/game" "$out" <<'PY'
import os, sys, zipfile
src, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for name in sorted(os.listdir(src)):
        info = zipfile.ZipInfo(name, (2026, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(os.path.join(src, name), "rb") as f:
            z.writestr(info, f.read())
PY
  fi
}

# ---------------------------------------------------------------- Bloom books
# bloom-NAME/ -> media/books/NAME.bloompub, played by bloom-player: the folder's files as
# they are, plus audio/ID.mp3 for every <span class="audio-sentence" id="ID"> in NAME.htm,
# spoken in the lang of the bloom-editable around it. NAME.htm is the only copy of the
# words; the mp3s live only in the .bloompub. Fixed dates and order, as for the game.
make_bloom() {
  local dir name id lang text out
  for dir in "$HERE"/bloom-*/; do
    dir=${dir%/}
    name=${dir##*/bloom-}
    out="$MEDIA/books/$name.bloompub"
    [[ -f $dir/$name.htm ]] || die "$dir has no $name.htm (a Bloom book's page file is named after it)"
    rm -rf "$TMP/bloom" && mkdir -p "$TMP/bloom/audio" "$(dirname "$out")"
    python3 - "$dir/$name.htm" >"$TMP/sentences.tsv" <<'PY'
import re, sys
from html.parser import HTMLParser

class Sentences(HTMLParser):
    """(id, lang, text) of each span.audio-sentence, lang from the enclosing bloom-editable."""
    VOID = {"br", "img", "meta", "link", "input", "hr", "source"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.found, self.open = [], {}, None  # open: [id, lang, words, depth]

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        lang = a["lang"] if "bloom-editable" in classes and a.get("lang") else (self.stack[-1] if self.stack else None)
        self.stack.append(lang)
        if "audio-sentence" in classes and self.open is None:
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", a.get("id") or ""):
                sys.exit(f"{sys.argv[1]}: audio-sentence id {a.get('id')!r} must start with a letter")
            self.open = [a["id"], lang, [], len(self.stack)]

    def handle_endtag(self, tag):
        if tag in self.VOID or not self.stack:
            return
        if self.open and len(self.stack) == self.open[3]:
            sid, lang, words, _ = self.open
            text = " ".join("".join(words).split())
            if self.found.setdefault(sid, (lang, text)) != (lang, text):
                sys.exit(f"{sys.argv[1]}: id {sid} is used for two different sentences")
            self.open = None
        self.stack.pop()

    def handle_data(self, data):
        if self.open:
            self.open[2].append(data)

reader = Sentences()
with open(sys.argv[1], encoding="utf-8") as f:
    reader.feed(f.read())
for sid, (lang, text) in sorted(reader.found.items()):
    if not lang or not text:
        sys.exit(f"{sys.argv[1]}: sentence {sid} has no words or no lang")
    print(sid, lang, text, sep="\t")
PY
    while IFS=$'\t' read -r id lang text; do
      speak "$lang" "$text" "$TMP/sentence.wav"
      mp3 "$TMP/sentence.wav" "$TMP/bloom/audio/$id.mp3" 32
    done <"$TMP/sentences.tsv"
    python3 - "$dir" "$TMP/bloom" "$out" <<'PY'
import os, sys, zipfile
book, made, out = sys.argv[1:]
files = {name: os.path.join(book, name) for name in os.listdir(book)}
files.update({"audio/" + name: os.path.join(made, "audio", name) for name in os.listdir(os.path.join(made, "audio"))})
with zipfile.ZipFile(out, "w") as z:
    for name in sorted(files):
        info = zipfile.ZipInfo(name, (2026, 1, 1, 0, 0, 0))
        info.create_system = 3
        info.external_attr = 0o644 << 16
        # mp3 is compressed already
        info.compress_type = zipfile.ZIP_STORED if name.endswith(".mp3") else zipfile.ZIP_DEFLATED
        with open(files[name], "rb") as f:
            z.writestr(info, f.read())
PY
  done
}

# takehome/: what phones save to take home (content_mirror/takehome.py draws them, as
# `sanduq-mirror build` does for any library): each book with pages as an MP4 per language,
# each activity and tip as a JPEG card per language. Needs rsvg-convert (librsvg2-bin) and
# the project's Python (the repository's .venv when there is one).
make_takehome() {
  local repo py
  repo=$(cd "$HERE/../.." && pwd)
  py=python3
  [[ -x $repo/.venv/bin/python ]] && py=$repo/.venv/bin/python
  (cd "$repo" && "$py" -c 'from content_mirror.demo import make_takehome; make_takehome()')
}

# ---------------------------------------------------------------- main
what=${1:-all}
case $what in
  all) make_videos; make_audio; make_book_narration; make_game; make_bloom; make_takehome ;;
  videos) make_videos ;;
  audio) make_audio ;;
  books) make_book_narration ;;
  game) make_game ;;
  bloom) make_bloom ;;
  takehome) make_takehome ;;
  *) die "usage: $0 [all|videos|audio|books|game|bloom|takehome]" ;;
esac
echo "media written to $MEDIA ($(du -sh "$MEDIA" | cut -f1))"
