"""Sealing: AES-256-GCM with the key haul's scheduler and workers share.

Byte-compatible with common/seal.c: a sealed value is
nonce (12 bytes) || ciphertext || tag (16 bytes), the associated data is
authenticated and not stored. Key files are read as haul_seal_key_load()
reads them, with its sentences; no error ever holds a byte of the key.
"""
import os
import stat

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import HaulError, KeyFileError

KEY_LEN = 32
NONCE_LEN = 12
TAG_LEN = 16
OVERHEAD = NONCE_LEN + TAG_LEN
KEYFILE_MAX = 128  # 64 hex digits and some trailing whitespace

KEY_FORMS = ("expected exactly 32 raw bytes, or 64 hex digits and an optional "
             "newline (make one with: openssl rand -hex 32 > FILE; chmod 600 FILE)")

_HEX = b"0123456789abcdefABCDEF"


class SealKey:
    """The 32-byte key, held so that no repr or str shows it."""

    __slots__ = ("_k", "path")

    def __init__(self, key, path=None):
        if not isinstance(key, (bytes, bytearray)) or len(key) != KEY_LEN:
            raise KeyFileError("a sealing key is exactly 32 bytes")
        self._k = bytes(key)
        self.path = path

    def bytes(self):
        return self._k

    def __repr__(self):
        return "SealKey(%s)" % ("file %s" % self.path if self.path else "32 bytes")

    __str__ = __repr__

    def __reduce__(self):  # never pickled into a Dask graph or a file by accident
        raise TypeError("a haul SealKey cannot be pickled: give the key file to each process")


def load_key(path, warn=None):
    """Read a key file: 32 raw bytes, or 64 hex digits with optional trailing
    whitespace. A file group or others may touch is loaded, and `warn` (when
    given) is called with haul's sentence asking to chmod it."""
    path = os.path.expanduser(str(path))
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            buf = f.read(KEYFILE_MAX + 1)
    except OSError as e:
        raise KeyFileError("key file %s: %s" % (path, e.strerror)) from None
    if len(buf) > KEYFILE_MAX:
        raise KeyFileError("key file %s: more than %d bytes; %s" % (path, KEYFILE_MAX, KEY_FORMS))
    if len(buf) == KEY_LEN:
        key = buf
    else:
        text = buf.rstrip(b" \t\n\r\v\f")
        if len(text) != 2 * KEY_LEN:
            if not buf:
                raise KeyFileError("key file %s: empty; %s" % (path, KEY_FORMS))
            raise KeyFileError("key file %s: %d bytes; %s" % (path, len(buf), KEY_FORMS))
        for i, c in enumerate(text):
            if c not in _HEX:
                # Say where, never what: the byte may be part of a key.
                raise KeyFileError("key file %s: byte %d is not a hex digit; %s" % (path, i, KEY_FORMS))
        key = bytes.fromhex(text.decode("ascii"))
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077 and warn:
        warn("key file %s can be read or changed by group or others (mode %04o): chmod 600 %s"
             % (path, mode, path))
    return SealKey(key, path)


def _raw(key):
    return key.bytes() if isinstance(key, SealKey) else bytes(key)


def seal(key, aad, plaintext, nonce=None):
    """nonce || ciphertext || tag. `nonce` is for test vectors only: haul draws a
    fresh random one for every task, and so must every caller."""
    if nonce is None:
        nonce = os.urandom(NONCE_LEN)
    if len(nonce) != NONCE_LEN:
        raise HaulError("seal: the nonce is 12 bytes")
    return bytes(nonce) + AESGCM(_raw(key)).encrypt(bytes(nonce), bytes(plaintext), bytes(aad))


def unseal(key, aad, sealed):
    """The plaintext, or HaulError with seal.c's sentence."""
    sealed = bytes(sealed)
    if len(sealed) < OVERHEAD:
        raise HaulError("authentication failed: %d bytes, shorter than a nonce and a tag (28)"
                        % len(sealed))
    try:
        return AESGCM(_raw(key)).decrypt(sealed[:NONCE_LEN], sealed[NONCE_LEN:], bytes(aad))
    except InvalidTag:
        raise HaulError("authentication failed") from None
