"""Videos made fit for phones at build time, with the real ffmpeg and ffprobe (issue 11)."""

import hashlib
import json
import subprocess

import pytest

from content_mirror import video
from server.errors import InvalidSource
from tests.helpers import need_tool

pytestmark = pytest.mark.slow
SMALL = video.Limits(height=240, kbps=400)


def make(path, *options, size="320x240", seconds=2):
    """A test video made by ffmpeg from its own test pattern and a tone."""
    subprocess.run([need_tool("ffmpeg"), "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size={size}:rate=15",
                    "-f", "lavfi", "-i", "sine=frequency=440", "-t", str(seconds), *options, str(path)],
                   check=True, capture_output=True)
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    need_tool("ffprobe")
    folder = tmp_path_factory.mktemp("videos")
    h264 = ["-c:v", "libx264", "-preset", "veryfast", "-b:v", "150k", "-c:a", "aac", "-b:a", "64k"]
    return {
        "fit": make(folder / "fit.mp4", *h264, "-movflags", "+faststart"),
        "tail": make(folder / "tail.mp4", *h264),  # ffmpeg's default puts the index at the end
        "big": make(folder / "big.mp4", "-c:v", "mpeg4", "-q:v", "3", "-c:a", "libmp3lame", size="640x480"),
        "sound": make(folder / "sound.mp4", "-vn", "-c:a", "aac"),
    }


def streams(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", str(path)],
                         capture_output=True, check=True)
    return {s["codec_type"]: s for s in json.loads(out.stdout)["streams"]}


def test_a_fit_video_is_kept_byte_for_byte(videos, tmp_path):
    shipped, action = video.fit(videos["fit"], tmp_path, SMALL)
    assert (shipped, action) == (videos["fit"], "keep")
    assert not any(tmp_path.iterdir())


def test_an_index_at_the_end_is_moved_to_the_front_without_encoding(videos, tmp_path):
    assert not video.index_first(videos["tail"])
    shipped, action = video.fit(videos["tail"], tmp_path, SMALL)
    assert action == "remux" and video.index_first(shipped)
    before, after = streams(videos["tail"]), streams(shipped)
    # Copied, not encoded: the same pictures at the same rate.
    assert after["video"]["codec_name"] == "h264" and after["video"]["nb_frames"] == before["video"]["nb_frames"]
    assert after["video"]["bit_rate"] == before["video"]["bit_rate"]
    # The remux ran beside ffprobe (video.fit): kept under the file's own name, nothing else left.
    assert [p.name for p in tmp_path.iterdir()] == [shipped.name] and shipped.name.startswith(video.sha256_file(videos["tail"]))


def test_a_video_phones_cannot_play_well_is_encoded_to_the_limits(videos, tmp_path):
    shipped, action = video.fit(videos["big"], tmp_path, SMALL)
    found = streams(shipped)
    assert action == "encode" and video.index_first(shipped)
    assert (found["video"]["codec_name"], found["audio"]["codec_name"]) == ("h264", "aac")
    assert int(found["video"]["height"]) == 240 and int(found["video"]["width"]) == 320
    again, _ = video.fit(videos["big"], tmp_path, SMALL)  # a second build reuses the result
    assert again == shipped and len(list(tmp_path.iterdir())) == 1


@pytest.mark.parametrize("name,words", [("junk.mp4", "is not a video"), ("sound.mp4", "has no pictures")])
def test_what_is_no_video_is_refused_naming_the_file(videos, tmp_path, name, words):
    path = videos["sound"] if name == "sound.mp4" else tmp_path / name
    if name == "junk.mp4":
        path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"not really" * 100)
    with pytest.raises(InvalidSource, match=words) as refused:
        video.fit(path, tmp_path / "cache", SMALL)
    assert str(path) in str(refused.value)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_fit_videos_rewrites_the_manifest_and_draws_missing_posters(videos, tmp_path):
    from content_mirror.authoring import Source

    def sha(path):
        return hashlib.sha256(path.read_bytes()).hexdigest()

    tail, fit = sha(videos["tail"]), sha(videos["fit"])
    poster = tmp_path / "poster.jpg"
    poster.write_bytes(b"\xff\xd8\xff" + b"0" * 100)
    manifest = {"items": [
        {"id": "a", "kind": "video", "files": [{"role": "main", "sha256": tail}]},
        {"id": "b", "kind": "video", "files": [{"role": "main", "sha256": tail},
                                               {"role": "poster", "sha256": sha(poster)}]},
        {"id": "c", "kind": "video", "files": [{"role": "main", "sha256": fit}]},
    ], "files": {tail: {"size": videos["tail"].stat().st_size, "mime": "video/mp4"},
                 fit: {"size": videos["fit"].stat().st_size, "mime": "video/mp4"},
                 sha(poster): {"size": 103, "mime": "image/jpeg"}}}
    source = Source(manifest, {tail: videos["tail"], fit: videos["fit"], sha(poster): poster})
    said = []
    fitted = video.fit_videos(source, tmp_path, SMALL, said.append)
    a, b, c = fitted.manifest["items"]
    assert a["files"][0]["sha256"] == b["files"][0]["sha256"] != tail  # shared, remuxed once
    assert c["files"] == [{"role": "main", "sha256": fit}, c["files"][1]] and c["files"][1]["role"] == "poster"
    assert [f["role"] for f in a["files"]] == ["main", "poster"] and len(b["files"]) == 2
    assert tail not in fitted.manifest["files"] and set(fitted.paths) == set(fitted.manifest["files"])
    for digest, path in fitted.paths.items():
        assert sha(path) == digest and fitted.manifest["files"][digest]["size"] == path.stat().st_size
    assert source.manifest["items"][0]["files"] == [{"role": "main", "sha256": tail}]  # the caller's is untouched
    assert len(said) == 3  # one remux, two posters


def test_the_build_command_fits_videos_and_refuses_a_false_one(videos, tmp_path):
    """`sanduq-mirror build` makes videos fit by default; the test library's count.mp4 is a
    few bytes that only look like an MP4, so it is refused naming the file, then replaced by a
    real video whose index is at the end, which ships with the index first."""
    import sys

    from content_mirror.bundle import bundles_folder
    from tests.helpers import write_source

    source = write_source(tmp_path / "source")

    def run(*args):
        return subprocess.run([sys.executable, "-m", "content_mirror", *map(str, args)],
                              capture_output=True, text=True, timeout=120)

    assert run("keygen", tmp_path / "k").returncode == 0
    build = ("build", source, tmp_path / "stick", "--key", tmp_path / "k" / "sanduq.key")
    refused = run(*build)
    assert refused.returncode != 0 and "count.mp4 is not a video" in refused.stderr + refused.stdout
    assert "Traceback" not in refused.stderr
    (source / "media" / "count.mp4").write_bytes(videos["tail"].read_bytes())
    built = run(*build)
    assert built.returncode == 0, built.stderr
    assert "count.mp4: index moved to the front" in built.stdout
    folder = next(bundles_folder(tmp_path / "stick").iterdir())
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    main = next(r["sha256"] for i in manifest["items"] if i["id"] == "video-count" for r in i["files"] if r["role"] == "main")
    assert video.index_first(folder / "files" / main)
    # The books made into videos to take home (content_mirror/takehome.py) have theirs first too.
    assert all(video.index_first(f) for f in (folder / "files").iterdir() if f.read_bytes()[4:8] == b"ftyp")
    assert run("build", source, tmp_path / "stick", "--key", tmp_path / "k" / "sanduq.key",
               "--video-height", "5").returncode == 2


def test_ffmpeg_opens_plain_local_files_only(tmp_path):
    # A playlist named .mp4: an HLS playlist whose one segment is decrypted through ffmpeg's
    # crypto protocol. Without "-protocol_whitelist file" ffprobe and ffmpeg read it as a video
    # (and a playlist may as well name http:// segments); with it, both refuse it.
    key = tmp_path / "key.ts"
    key.write_bytes(bytes(range(16)))
    (tmp_path / "keyinfo").write_text(f"{key}\n{key}\n")
    make(tmp_path / "list.m3u8", "-c:v", "mpeg2video", "-an", "-hls_key_info_file", str(tmp_path / "keyinfo"),
         "-hls_playlist_type", "vod", "-f", "hls")
    playlist = (tmp_path / "list.m3u8").rename(tmp_path / "film.mp4")
    with pytest.raises(InvalidSource, match="is not a video or audio file ffmpeg can read"):
        video.probe(playlist)
    with pytest.raises(InvalidSource, match="could not be made fit for phones"):
        video._ffmpeg(["-i", str(playlist), "-frames:v", "1"], tmp_path / "frame.jpg", 1, playlist)
    assert not (tmp_path / "frame.jpg").exists()


def test_probe_reads_audio_too_with_its_title(tmp_path):
    song = make(tmp_path / "song.mp3", "-vn", "-c:a", "libmp3lame", "-metadata", "title=Колыбельная", seconds=3)
    found = video.probe(song)
    assert (found.video, found.audio, found.title, round(found.seconds)) == (None, "mp3", "Колыбельная", 3)
