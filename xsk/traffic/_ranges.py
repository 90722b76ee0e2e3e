"""Value ranges for per-packet field variation: ``10.0.0.1-10.0.0.200``, ``1000-2000``, MACs.

Each parser returns a numpy array of every value in the range, in order; the generator
walks it in order or draws from it at random. Bad input raises ConfigError saying what
was expected.
"""

from __future__ import annotations

import ipaddress

import numpy as np

from ..errors import ConfigError

MAX_RANGE = 1 << 24  # values held in memory per field


def _split(text: str) -> tuple[str, str]:
    text = text.strip()
    if not text:
        raise ConfigError("empty range")
    # IPv6 addresses contain no '-', so one '-' splits the range for every kind here
    lo, sep, hi = text.partition("-")
    return lo.strip(), (hi.strip() if sep else lo.strip())


def _check_size(n: int, text: str) -> None:
    if n <= 0:
        raise ConfigError(f"range {text!r} is empty: the first value must not exceed the last")
    if n > MAX_RANGE:
        raise ConfigError(f"range {text!r} has {n:,} values; at most {MAX_RANGE:,}")


def ports(text: str) -> np.ndarray:
    """``1000`` or ``1000-2000`` -> uint16 array."""
    lo_text, hi_text = _split(text)
    try:
        lo, hi = int(lo_text), int(hi_text)
    except ValueError:
        raise ConfigError(f"bad port range {text!r}: expected N or N-M, e.g. 1000-2000") from None
    if not (0 <= lo <= 65535 and 0 <= hi <= 65535):
        raise ConfigError(f"bad port range {text!r}: ports are 0..65535")
    _check_size(hi - lo + 1, text)
    return np.arange(lo, hi + 1, dtype=np.uint16)


def addresses(text: str) -> tuple[int, np.ndarray]:
    """``10.0.0.1`` or ``10.0.0.1-10.0.0.200`` (IPv4 or IPv6) -> (version, (n, 4|16) uint8 array)."""
    lo_text, hi_text = _split(text)
    try:
        lo, hi = ipaddress.ip_address(lo_text), ipaddress.ip_address(hi_text)
    except ValueError:
        raise ConfigError(f"bad address range {text!r}: expected A or A-B, e.g. 10.0.0.1-10.0.0.200") from None
    if lo.version != hi.version:
        raise ConfigError(f"bad address range {text!r}: both ends must be IPv4 or both IPv6")
    n = int(hi) - int(lo) + 1
    _check_size(n, text)
    width = 4 if lo.version == 4 else 16
    if width == 4:
        values = np.arange(int(lo), int(hi) + 1, dtype=np.uint64).astype(">u4")
        return 4, values.view(np.uint8).reshape(n, 4)
    base = int(lo)
    high, low = base >> 64, base & (2**64 - 1)
    offsets = np.arange(n, dtype=np.uint64)
    low_part = (np.uint64(low) + offsets).astype(">u8")
    carry = (offsets > np.uint64(2**64 - 1 - low)).astype(np.uint64)
    high_part = (np.uint64(high) + carry).astype(">u8")
    out = np.empty((n, 16), dtype=np.uint8)
    out[:, :8] = high_part.view(np.uint8).reshape(n, 8)
    out[:, 8:] = low_part.view(np.uint8).reshape(n, 8)
    return 6, out


def macs(text: str) -> np.ndarray:
    """``02:00:00:00:00:01`` or ``02:00:00:00:00:01-02:00:00:00:00:ff`` -> (n, 6) uint8 array."""
    lo_text, hi_text = _split(text)
    try:
        # each of the six parts one or two hex digits (tools/fuzz found ':::::0EEE...' overflowing)
        if any(len(t.split(":")) != 6 or not all(1 <= len(part) <= 2 for part in t.split(":"))
               for t in (lo_text, hi_text)):
            raise ValueError
        lo, hi = (int("".join(part.rjust(2, "0") for part in t.split(":")), 16) for t in (lo_text, hi_text))
    except ValueError:
        raise ConfigError(f"bad MAC range {text!r}: expected aa:bb:cc:dd:ee:ff[-aa:bb:cc:dd:ee:ff]") from None
    _check_size(hi - lo + 1, text)
    values = np.arange(lo, hi + 1, dtype=np.uint64).astype(">u8").view(np.uint8).reshape(-1, 8)
    macs: np.ndarray = values[:, 2:].copy()
    return macs
