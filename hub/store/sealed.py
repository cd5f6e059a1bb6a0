"""Passphrase encryption of a backup for the road (a USB stick, a NAS): scrypt and AES-256-GCM
from `cryptography`, in authenticated 64 KiB chunks so a Pi Zero never holds a whole file."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import BinaryIO, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from contract.errors import NurseryError

MAGIC: Final = b"NMBKAES1"
CHUNK: Final = 64 * 1024
TAG: Final = 16
# scrypt's cost: 2**15 × 8 × 128 bytes = 32 MiB of memory and well under a second on a Pi.
SCRYPT_LOG2_N: Final = 15
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
_HEADER: Final = struct.Struct(">8sBBB16s7s")  # magic, log2 n, r, p, salt, nonce prefix


class SealError(NurseryError):
    """A sealed backup cannot be opened: wrong passphrase, damaged, cut short, or not one."""


def is_sealed(path: Path) -> bool:
    """Does the file start like an encrypted backup? (False when it cannot be read.)"""
    try:
        with path.open("rb") as file:
            return file.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def read_passphrase(path: Path) -> bytes:
    """The passphrase in `path`: its first line, without the line ending. Raises SealError."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise SealError(f"cannot read the passphrase file {path}: {exc.strerror}") from None
    first = text.splitlines()[0] if text.strip() else b""
    if not first.strip():
        raise SealError(f"the passphrase file {path} is empty")
    return first


def _key(passphrase: bytes, salt: bytes, log2_n: int, r: int, p: int) -> AESGCM:
    if not (10 <= log2_n <= 20 and 1 <= r <= 16 and 1 <= p <= 4):
        raise SealError("this encrypted backup asks for an unsupported key derivation")
    kdf = Scrypt(salt=salt, length=32, n=2**log2_n, r=r, p=p)
    return AESGCM(kdf.derive(passphrase))


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    """The STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015), as age and Tink
    use it: each chunk's position and a last-chunk flag are in its nonce, so chunks cannot
    be reordered, dropped or the file cut short without the tag failing."""
    if counter >= 2**32:
        raise SealError("file too large to encrypt")
    return prefix + struct.pack(">IB", counter, 1 if last else 0)


class SealingWriter:
    """A write-only file that encrypts what is written to `out`; close() writes the last chunk."""

    def __init__(self, out: BinaryIO, passphrase: bytes) -> None:
        salt, prefix = os.urandom(16), os.urandom(7)
        self._header = _HEADER.pack(MAGIC, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P, salt, prefix)
        self._aead = _key(passphrase, salt, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P)
        self._prefix = prefix
        self._out = out
        self._buffer = bytearray()
        self._counter = 0
        self._closed = False
        out.write(self._header)

    def _emit(self, data: bytes, last: bool) -> None:
        nonce = _nonce(self._prefix, self._counter, last)
        self._out.write(self._aead.encrypt(nonce, data, self._header))
        self._counter += 1

    def write(self, data: bytes) -> int:
        self._buffer += data
        # Keep at least one byte back: the last chunk is only known at close().
        while len(self._buffer) > CHUNK:
            self._emit(bytes(self._buffer[:CHUNK]), last=False)
            del self._buffer[:CHUNK]
        return len(data)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._emit(bytes(self._buffer), last=True)
            self._buffer.clear()


class OpeningReader:
    """A read-only file giving back what a SealingWriter wrote. Raises SealError from the
    constructor on a wrong passphrase, and from read() on a damaged or shortened file."""

    def __init__(self, source: BinaryIO, passphrase: bytes) -> None:
        header = source.read(_HEADER.size)
        if len(header) < _HEADER.size or header[: len(MAGIC)] != MAGIC:
            raise SealError("not an encrypted nursery backup")
        _, log2_n, r, p, salt, prefix = _HEADER.unpack(header)
        self._header, self._prefix, self._source = header, prefix, source
        self._aead = _key(passphrase, salt, log2_n, r, p)
        self._counter = 0
        self._pending = source.read(CHUNK + TAG)
        self._done = False
        self._plain = bytearray()
        try:
            self._next()
        except SealError:
            raise SealError("wrong passphrase (or the encrypted file was changed)") from None

    def _next(self) -> None:
        """Decrypt one more chunk into the plain buffer."""
        sealed, self._pending = self._pending, self._source.read(CHUNK + TAG)
        last = not self._pending
        if len(sealed) < TAG:
            raise SealError("the encrypted backup is cut short")
        try:
            plain = self._aead.decrypt(
                _nonce(self._prefix, self._counter, last), sealed, self._header
            )
        except InvalidTag:
            raise SealError("the encrypted backup is damaged or cut short") from None
        self._counter += 1
        self._done = last
        self._plain += plain

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._plain) < size):
            self._next()
        if size < 0:
            size = len(self._plain)
        data = bytes(self._plain[:size])
        del self._plain[:size]
        return data
