"""minisign signatures: ours and the stock tool's, both ways, legacy and prehashed."""

import stat
import subprocess

import pytest

from content_mirror import minisign
from server.errors import SanduqError
from tests.helpers import need_tool


@pytest.fixture
def keys(tmp_path):
    public = minisign.keygen(tmp_path / "keys")
    return public, minisign.read_secret_key(tmp_path / "keys" / "sanduq.key"), tmp_path / "keys"


def test_keygen_files_and_modes(keys):
    public, secret, folder = keys
    assert stat.S_IMODE((folder / "sanduq.key").stat().st_mode) == 0o600
    assert minisign.read_public_key(folder / "sanduq.pub") == public
    assert secret.public == public.key and secret.key_id == public.key_id
    with pytest.raises(SanduqError, match="already exists"):
        minisign.keygen(folder)


def test_sign_and_verify(keys):
    public, secret, _ = keys
    text = minisign.sign(b"manifest bytes", secret)
    assert minisign.verify(b"manifest bytes", text, [public])[0] == public


@pytest.mark.parametrize("change,words", [
    (lambda data, text: (data + b" ", text), "does not match its contents"),
    (lambda data, text: (data, text.replace("trusted comment: ", "trusted comment: x")), "trusted comment was changed"),
    (lambda data, text: (data, "nonsense"), "not in minisign's format"),
    (lambda data, text: (data, text.replace(text.splitlines()[1], "!!!")), "not valid base64"),
])
def test_tampering_is_caught(keys, change, words):
    public, secret, _ = keys
    data, text = change(b"manifest", minisign.sign(b"manifest", secret))
    with pytest.raises(minisign.BadSignature, match=words):
        minisign.verify(data, text, [public])


def test_untrusted_key_is_named(keys, tmp_path):
    _, secret, _ = keys
    other = minisign.keygen(tmp_path / "other")
    with pytest.raises(minisign.BadSignature, match="which this box does not trust"):
        minisign.verify(b"x", minisign.sign(b"x", secret), [other])


def test_stock_minisign_verifies_ours_and_we_verify_its_both_kinds(keys, tmp_path):
    tool = need_tool("minisign")
    public, secret, folder = keys
    data = tmp_path / "manifest.json"
    data.write_bytes(b'{"format": "sanduq-bundle/1"}')
    (tmp_path / "manifest.json.minisig").write_text(minisign.sign(data.read_bytes(), secret))
    ok = subprocess.run([tool, "-Vm", str(data), "-p", str(folder / "sanduq.pub")], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    # The stock tool signs with our key file, prehashed (default) and legacy (-l).
    for flags, name in (([], "hashed.minisig"), (["-l"], "legacy.minisig")):
        out = tmp_path / name
        made = subprocess.run([tool, "-S", *flags, "-s", str(folder / "sanduq.key"), "-m", str(data), "-x", str(out)],
                              capture_output=True, text=True, input="")
        assert made.returncode == 0, made.stderr
        assert minisign.verify(data.read_bytes(), out.read_text(), [public])[0] == public


def test_stock_minisign_keys_work_here(tmp_path):
    tool = need_tool("minisign")
    made = subprocess.run([tool, "-G", "-W", "-p", str(tmp_path / "m.pub"), "-s", str(tmp_path / "m.key")],
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    secret = minisign.read_secret_key(tmp_path / "m.key")
    public = minisign.read_public_key(tmp_path / "m.pub")
    assert minisign.verify(b"y", minisign.sign(b"y", secret), [public])[0] == public


def test_password_protected_keys_are_explained(tmp_path, keys):
    _, _, folder = keys
    text = (folder / "sanduq.key").read_text().splitlines()
    import base64

    raw = bytearray(base64.b64decode(text[1]))
    raw[2:4] = b"Sc"  # scrypt: what minisign -G without -W writes
    (tmp_path / "locked.key").write_text(text[0] + "\n" + base64.b64encode(bytes(raw)).decode() + "\n")
    with pytest.raises(SanduqError, match="password-protected"):
        minisign.read_secret_key(tmp_path / "locked.key")
