"""minisign keys and signatures (https://jedisct1.github.io/minisign/), with Ed25519 from
the `cryptography` package. Bundles are signed this way so a ministry can sign and check
them with the stock `minisign` tool, and the box needs no tool of its own to trust them.

A public key is "Ed" + key id (8 bytes) + Ed25519 public key. A signature is "ED"
(Ed25519 over the BLAKE2b-512 of the file: minisign's default since 0.10) or "Ed" (over
the file itself, "legacy"), key id and signature, then a trusted comment signed together
with the signature. Both kinds are accepted; we write "ED".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from server.errors import Refused, SanduqError

MAX_SIGNATURE_FILE = 4096


class BadSignature(Refused):
    """A signature that is missing, malformed, from an unknown key, or wrong."""

    code = "untrusted"


@dataclass(frozen=True)
class PublicKey:
    key_id: bytes
    key: bytes

    @property
    def name(self) -> str:
        """The key id as minisign prints it."""
        return f"{int.from_bytes(self.key_id, 'little'):016X}"


@dataclass(frozen=True)
class SecretKey:
    key_id: bytes
    seed: bytes
    public: bytes


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise BadSignature(f"{what} is not valid base64") from None


def _second_line(text: str, what: str) -> str:
    lines = text.splitlines()
    if len(lines) < 2 or not lines[0].startswith("untrusted comment:"):
        raise BadSignature(f"{what} is not in minisign's format")
    return lines[1]


def read_public_key(path: Path) -> PublicKey:
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    data = _b64(_second_line(text, f"public key {path}"), f"public key {path}")
    if len(data) != 42 or data[:2] != b"Ed":
        raise SanduqError(f"{path} is not a minisign public key.")
    return PublicKey(data[2:10], data[10:])


def read_secret_key(path: Path) -> SecretKey:
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    data = _b64(_second_line(text, f"secret key {path}"), f"secret key {path}")
    if len(data) != 158 or data[:2] != b"Ed" or data[4:6] != b"B2":
        raise SanduqError(f"{path} is not a minisign secret key.")
    if data[2:4] != b"\0\0":
        raise SanduqError(f"{path} is password-protected; Sanduq signs with an unencrypted key "
                          "(make one with 'sanduq-mirror keygen' or 'minisign -G -W').")
    key_id, secret = data[54:62], data[62:126]
    return SecretKey(key_id, secret[:32], secret[32:])


def keygen(folder: Path) -> PublicKey:
    """Write FOLDER/sanduq.pub and FOLDER/sanduq.key (unencrypted, mode 0600), as minisign -G -W."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pub_path, key_path = folder / "sanduq.pub", folder / "sanduq.key"
    for existing in (pub_path, key_path):
        if existing.exists():
            raise SanduqError(f"{existing} already exists; move it away first, so no key is lost.")
    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                 serialization.NoEncryption())
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key_id = secrets.token_bytes(8)
    pub = PublicKey(key_id, public)
    # Layout of minisign's unencrypted secret key: no KDF, zero salt and limits, zero checksum.
    secret = b"Ed" + b"\0\0" + b"B2" + bytes(32 + 8 + 8) + key_id + seed + public + bytes(32)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"untrusted comment: minisign secret key {pub.name}\n{base64.b64encode(secret).decode()}\n")
    pub_path.write_text(f"untrusted comment: minisign public key {pub.name}\n"
                        f"{base64.b64encode(b'Ed' + key_id + public).decode()}\n")
    return pub


def sign(data: bytes, key: SecretKey, *, trusted_comment: str | None = None) -> str:
    """The text of a .minisig file for DATA (prehashed, as minisign signs by default)."""
    private = Ed25519PrivateKey.from_private_bytes(key.seed)
    signature = private.sign(hashlib.blake2b(data, digest_size=64).digest())
    comment = trusted_comment or f"timestamp:{int(time.time())}\thashed"
    global_signature = private.sign(signature + comment.encode())
    return ("untrusted comment: signature from Sanduq's minisign secret key\n"
            f"{base64.b64encode(b'ED' + key.key_id + signature).decode()}\n"
            f"trusted comment: {comment}\n"
            f"{base64.b64encode(global_signature).decode()}\n")


def verify(data: bytes, signature_text: str, keys: list[PublicKey]) -> tuple[PublicKey, str]:
    """Check SIGNATURE_TEXT over DATA with one of KEYS; return the key and the trusted comment."""
    lines = signature_text.splitlines()
    if len(lines) < 4 or not lines[2].startswith("trusted comment: "):
        raise BadSignature("the signature file is not in minisign's format")
    blob = _b64(_second_line(signature_text, "the signature"), "the signature")
    if len(blob) != 74 or blob[:2] not in (b"Ed", b"ED"):
        raise BadSignature("the signature is not an Ed25519 minisign signature")
    key = next((k for k in keys if k.key_id == blob[2:10]), None)
    if key is None:
        raise BadSignature(f"it is signed with key {int.from_bytes(blob[2:10], 'little'):016X}, "
                           "which this box does not trust")
    signature = blob[10:]
    message = hashlib.blake2b(data, digest_size=64).digest() if blob[:2] == b"ED" else data
    comment = lines[2][len("trusted comment: "):]
    global_signature = _b64(lines[3], "the signature's trusted comment")
    public = Ed25519PublicKey.from_public_bytes(key.key)
    try:
        public.verify(signature, message)
    except InvalidSignature:
        raise BadSignature("its signature does not match its contents (changed after signing)") from None
    try:
        public.verify(global_signature, signature + comment.encode())
    except InvalidSignature:
        raise BadSignature("its trusted comment was changed after signing") from None
    return key, comment


def trusted_keys(folder: Path) -> list[PublicKey]:
    """Every minisign public key (*.pub) in FOLDER; unreadable files are skipped."""
    keys = []
    for path in sorted(Path(folder).glob("*.pub")):
        try:
            keys.append(read_public_key(path))
        except (SanduqError, OSError, UnicodeError):
            continue
    return keys
