"""Videos fit for phones and a shared hotspot, made so at build time (never on the Pi).

A video plays on a five-year-old phone over the box's Wi-Fi when it is H.264 with AAC sound
in an MP4 whose index (`moov`) comes before the pictures (without it many phones wait for the
whole file before playing), no taller than 480 lines and about 1 Mbps (a room of phones shares
the hotspot's airtime). `fit_videos` looks at every video of a read authoring folder and:

    keeps   a file that is all of that: not a byte changes;
    remuxes one that only has its index at the end: ffmpeg -c copy -movflags +faststart;
    encodes the rest once with ffmpeg (libx264 + AAC) to the limits.

It also draws a poster from a frame of a video that has none. Results are kept in the
authoring folder's `.sanduq-cache/videos/`, named by the source's hash and the limits, so
the next build reuses them. ffmpeg and ffprobe come from Debian (`apt-get install ffmpeg`).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from content_mirror.authoring import Source
from server.errors import InvalidSource
from server.fsutil import program, sha256_file

CACHE = Path(".sanduq-cache") / "videos"
PROBE_SECONDS = 60
ENCODE_SECONDS_PER_MEDIA_SECOND = 20  # a hung ffmpeg is stopped; a real encode is far quicker
# Before every input: ffmpeg opens plain local files only. A playlist named .mp4 would otherwise
# have it fetch from the network, or read through other protocols, whatever the file says.
LOCAL_ONLY = ("-protocol_whitelist", "file")
REMUX = ("-c", "copy", "-movflags", "+faststart")  # the index to the front, not a picture changed


@dataclass(frozen=True)
class Limits:
    height: int = 480
    kbps: int = 1000  # the video's own rate; sound adds 96 kbps

    def tag(self) -> str:
        return f"{self.height}p-{self.kbps}k"


@dataclass
class Probe:
    video: str | None
    audio: str | None
    height: int
    kbps: int
    seconds: float
    index_first: bool
    title: str = ""  # the file's title tag


def index_first(path: Path) -> bool:
    """Whether the MP4's `moov` box comes before its `mdat` box (ISO BMFF top-level boxes)."""
    with path.open("rb") as f:
        while header := f.read(8):
            if len(header) < 8:
                return False
            size, kind = int.from_bytes(header[:4], "big"), header[4:8]
            if kind == b"moov":
                return True
            if kind == b"mdat":
                return False
            if size == 1:  # a 64-bit size follows
                size = int.from_bytes(f.read(8), "big") - 8
            elif size == 0:  # the box runs to the end of the file
                return False
            if size < 8:
                return False
            f.seek(size - 8, 1)
    return False


def probe(path: Path, fmt: str | None = None) -> Probe:
    """What a video or audio file holds, from ffprobe; InvalidSource naming the file if ffmpeg
    cannot read it. A duration that cannot be a recording's (over 100 hours) reads as 0.
    FMT names the only format to read it as (ffmpeg otherwise goes by what the bytes say, and
    a "recording" that is a playlist would have it read other files)."""
    forced = ["-f", fmt] if fmt else []
    try:
        out = subprocess.run([program("ffprobe", "ffmpeg", "to read videos and audio"), "-v", "error", *LOCAL_ONLY,
                              *forced, "-print_format", "json", "-show_format", "-show_streams", str(path)],
                             capture_output=True, timeout=PROBE_SECONDS, check=True)
        data = json.loads(out.stdout.decode("utf-8", "replace"))  # a tag need not be UTF-8
        found = data.get("format") or {}
        streams = [s for s in data.get("streams") or [] if isinstance(s, dict)]
        video = next((s for s in streams if s.get("codec_type") == "video"), None)
        audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
        seconds = float(found.get("duration") or 0)
        total = int(found.get("bit_rate") or 0) // 1000
        own = (int(video.get("bit_rate") or 0) // 1000 or total) if video else total
        height = int(video.get("height") or 0) if video else 0
        tags = found.get("tags") if isinstance(found.get("tags"), dict) else {}
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, ValueError, TypeError, AttributeError):
        raise InvalidSource(f"{path} is not a video or audio file ffmpeg can read; check that it plays, or export "
                            "it again.") from None
    title = next((v for k, v in tags.items() if k.lower() == "title" and isinstance(v, str)), "")
    return Probe(video and video.get("codec_name"), audio and audio.get("codec_name"), height, own,
                 seconds if 0 <= seconds < 100 * 3600 else 0,
                 path.suffix.lower() in (".mp4", ".m4v") and video is not None and index_first(path), title)


def plan(found: Probe, limits: Limits) -> str:
    """'keep', 'remux' or 'encode' for a probed video."""
    # A little over the rate is kept: re-encoding to save 10% costs more picture than it saves.
    fits = (found.video == "h264" and found.audio in (None, "aac") and found.height <= limits.height
            and found.kbps <= limits.kbps * 1.1)
    if not fits:
        return "encode"
    return "keep" if found.index_first else "remux"


def encode_args(limits: Limits) -> list[str]:
    """ffmpeg's options to encode a video to LIMITS; the bench runs the same command alone."""
    return ["-map", "0:v:0", "-map", "0:a:0?", "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main",
            "-pix_fmt", "yuv420p", "-vf", f"scale=-2:'min({limits.height},ih)'",
            "-b:v", f"{limits.kbps}k", "-maxrate", f"{limits.kbps * 3 // 2}k", "-bufsize", f"{limits.kbps * 2}k",
            "-c:a", "aac", "-b:a", "96k", "-ac", "2", "-movflags", "+faststart"]


def _ffmpeg(args: list[str], target: Path, seconds: float, what: Path) -> Path:
    """Run ffmpeg into a temporary file and move it into place whole, or leave nothing."""
    partial = target.with_name(target.name + ".part")
    return _finish(_start(args, partial, "mp4" if target.suffix == ".mp4" else "image2"), partial, target,
                   seconds, what)


def _start(args: list[str], partial: Path, kind: str) -> subprocess.Popen:
    """ffmpeg writing PARTIAL as KIND (the .part name says nothing to ffmpeg), started."""
    return subprocess.Popen([program("ffmpeg", "ffmpeg", "to make videos fit for phones"), "-nostdin", "-v", "error",
                             "-y", *LOCAL_ONLY, *args, "-f", kind, str(partial)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _finish(proc: subprocess.Popen, partial: Path, target: Path, seconds: float, what: Path) -> Path:
    """Wait for PROC, then move PARTIAL into place as TARGET whole, or leave nothing."""
    try:
        _, err = proc.communicate(timeout=max(120, seconds * ENCODE_SECONDS_PER_MEDIA_SECOND))
    except subprocess.TimeoutExpired:
        _stop(proc, partial)
        raise InvalidSource(f"{what} took too long to convert; check that the file plays.") from None
    if proc.returncode != 0:
        partial.unlink(missing_ok=True)
        detail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
        raise InvalidSource(f"{what} could not be made fit for phones (ffmpeg: {detail[0][:200]}).") from None
    partial.replace(target)
    return target


def _stop(proc: subprocess.Popen, partial: Path) -> None:
    proc.kill()
    proc.communicate()
    partial.unlink(missing_ok=True)


def fit(path: Path, cache: Path, limits: Limits, sha: str | None = None) -> tuple[Path, str]:
    """The file to ship for the video at PATH, and what was done: keep, remux or encode.

    SHA is the file's SHA-256 when the caller knows it (the manifest does): not hashed again.

    An MP4 whose index is at its end is most often only to be remuxed, so that remux starts at
    once, beside ffprobe and the hashing, and is kept only if the plan says remux (else it is
    stopped and deleted): a remux then costs what ffmpeg alone costs, not ffprobe's start on top.
    """
    target = cache / f"{sha}-{limits.tag()}.mp4" if sha else None
    ahead = None
    if path.suffix.lower() in (".mp4", ".m4v") and not (target and target.is_file()) and not index_first(path):
        cache.mkdir(parents=True, exist_ok=True)
        early = cache / f".remux-{os.getpid()}-{threading.get_ident()}.mp4.part"
        ahead = (_start(["-i", str(path), *REMUX], early, "mp4"), early)
    try:
        with ThreadPoolExecutor(1) as hashing:  # the file is hashed while ffprobe reads it
            digest = hashing.submit(lambda: sha or sha256_file(path))
            found = probe(path)
            sha = digest.result()
        if found.video is None:
            raise InvalidSource(f"{path} has no pictures; a video item needs a video file.")
        action = plan(found, limits)
        if action == "keep":
            return path, action
        cache.mkdir(parents=True, exist_ok=True)
        target = cache / f"{sha}-{limits.tag()}.mp4"
        if action == "remux" and ahead:
            proc, early = ahead
            ahead = None
            _finish(proc, early, early.with_suffix(""), found.seconds, path).replace(target)
        elif not target.is_file():
            _ffmpeg(["-i", str(path), *(REMUX if action == "remux" else encode_args(limits))], target, found.seconds, path)
        return target, action
    finally:
        if ahead:  # not a remux after all, or the file was refused: the early remux goes
            _stop(*ahead)


def poster(path: Path, cache: Path, sha: str | None = None) -> Path:
    """A 320-pixel-wide JPEG of a frame a tenth of the way into the video at PATH (of SHA-256 SHA)."""
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"{sha or sha256_file(path)}-poster.jpg"
    if not target.is_file():
        at = probe(path).seconds / 10
        _ffmpeg(["-ss", f"{at:.2f}", "-i", str(path), "-frames:v", "1", "-vf", "scale=320:-2", "-q:v", "5"],
                target, 10, path)
    return target


def fit_videos(source: Source, folder: Path, limits: Limits = Limits(), report=print) -> Source:
    """SOURCE with every video made fit for phones and given a poster if it had none.

    FOLDER is the authoring folder (the cache lives in it). REPORT gets one line per change.
    """
    manifest = json.loads(json.dumps(source.manifest))  # a deep copy: the caller's stays as read
    paths, files, cache = dict(source.paths), manifest["files"], Path(folder) / CACHE
    done: dict[str, str] = {}  # old sha -> new sha, so a file shared by items is fitted once
    for item in manifest["items"]:
        if item["kind"] != "video":
            continue
        mains = [ref for ref in item.get("files", []) if ref["role"] == "main"]
        for ref in mains:
            old = ref["sha256"]
            if old not in done:
                shipped, action = fit(paths[old], cache, limits, old)
                new = old if shipped == paths[old] else sha256_file(shipped)
                if new != old:
                    files[new] = {"size": shipped.stat().st_size, "mime": "video/mp4"}
                    paths[new] = shipped
                    report(f"{paths[old]}: {'index moved to the front' if action == 'remux' else 'encoded for phones'}")
                done[old] = new
            ref["sha256"] = done[old]
        if mains and not any(ref["role"] == "poster" for ref in item["files"]):
            picture = poster(paths[mains[0]["sha256"]], cache, mains[0]["sha256"])
            sha = sha256_file(picture)
            files[sha] = {"size": picture.stat().st_size, "mime": "image/jpeg"}
            paths[sha] = picture
            item["files"].append({"role": "poster", "sha256": sha})
            report(f"{item['id']}: poster drawn from its video")
    named = {ref["sha256"] for item in manifest["items"] for ref in item.get("files", [])}
    manifest["files"] = {sha: meta for sha, meta in files.items() if sha in named}
    return replace(source, manifest=manifest, paths={sha: paths[sha] for sha in manifest["files"]})
