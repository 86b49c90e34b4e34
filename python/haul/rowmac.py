"""Authenticated result rows (common/rowmac.c; docs/protocol.md, "Authenticated rows").

mac_key = HMAC-SHA256(seal key, "haul-result-mac-v1"); a row's MAC is the first
16 bytes, as 32 lowercase hex digits, of HMAC-SHA256(mac_key, "haul-row-v1" 00
|| u64be(len(job)) || job || for each field and value in the entry's order:
u64be(len) || bytes), over every field but `mac`.
"""
import hashlib
import hmac
import struct

from .seal import SealKey

HEX = 32


def _b(x):
    return x if isinstance(x, bytes) else str(x).encode("utf-8", "surrogateescape")


class RowMac:
    __slots__ = ("_k",)

    def __init__(self, seal_key):
        raw = seal_key.bytes() if isinstance(seal_key, SealKey) else bytes(seal_key)
        self._k = hmac.new(raw, b"haul-result-mac-v1", hashlib.sha256).digest()

    def __repr__(self):
        return "RowMac()"

    def compute(self, job, items):
        """items: field, value, field, value ... (bytes or str), in the entry's order."""
        job = _b(job)
        h = hmac.new(self._k, b"haul-row-v1\0" + struct.pack(">Q", len(job)) + job, hashlib.sha256)
        for it in items:
            it = _b(it)
            h.update(struct.pack(">Q", len(it)))
            h.update(it)
        return h.hexdigest()[:HEX]

    def verify(self, job, fields):
        """fields: the entry's (field, value) pairs as Redis gives them, `mac` among
        them. True when its MAC is there and right."""
        items, mac = [], None
        for f, v in fields:
            if _b(f) == b"mac":
                mac = _b(v)
                continue
            items += [f, v]
        if mac is None or len(mac) != HEX:
            return False
        return hmac.compare_digest(self.compute(job, items).encode(), mac)
