#!/usr/bin/env python3
"""A UDP key-value store on AF_XDP: replies of another length than the requests.

    python examples/udp_kv.py IFACE [--netns NS] [--port 7400] [--queue 0] [--compiled]

Requests are text datagrams: ``SET key value`` answers ``OK``, ``GET key`` answers
``VALUE value`` or ``NOT_FOUND``, anything else ``ERROR ...``. Each reply goes back in its
request's frame: addresses and ports swapped, then ``replies.set_payloads`` puts every answer
in its frame and makes lengths and checksums whole (IPv4 or IPv6), so the handler never
touches a header. Datagrams with a wrong checksum are not answered; ones a local sender left to
checksum offload are (set_payloads recomputes the checksum anyway).

With --compiled the store is ``CompiledStore``: the same protocol as a frame handler (xsk.jit)
over numpy arrays (an open-addressing hash table of SLOTS keys of up to KEY_MAX bytes and
values of up to VALUE_MAX), compiled by numba and run in C without the GIL; a longer key or
value, or a full table, answers ``ERROR ...``.
Stops on Ctrl-C or SIGTERM and prints what it did and the UMEM's frame accounting.
"""

import argparse
import json

import numpy as np

import xsk
from xsk import Runner, jit, replies
from xsk.headers import CSUM_BAD


class Store:
    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}

    def __len__(self) -> int:
        return len(self.data)

    def answer(self, request: bytes) -> bytes:
        words = request.strip().split(b" ", 2)
        if len(words) == 3 and words[0] == b"SET":
            self.data[words[1]] = words[2]
            return b"OK"
        if len(words) == 2 and words[0] == b"GET":
            value = self.data.get(words[1])
            return b"NOT_FOUND" if value is None else b"VALUE " + value
        return b"ERROR expected SET key value or GET key"

    def handler(self, batch: xsk.Batch, h) -> object:  # h: xsk.headers.Headers, checksums verified
        ours = h.udp & ~h.l4_csum_bad & (h.payload >= 0)
        if not ours.any():
            return ours
        answers = [self.answer(bytes(batch.data(i))[int(h.payload[i]):]) for i in np.flatnonzero(ours)]
        replies.reflect(batch, h, ours)
        replies.set_payloads(batch, h, answers, where=ours)
        return ours


SLOTS, KEY_MAX, VALUE_MAX = 4096, 64, 1400
_OK = np.frombuffer(b"OK", dtype=np.uint8)
_VALUE = np.frombuffer(b"VALUE ", dtype=np.uint8)
_NOT_FOUND = np.frombuffer(b"NOT_FOUND", dtype=np.uint8)
_ERROR = np.frombuffer(b"ERROR expected SET key value or GET key", dtype=np.uint8)
_TOO_LONG = np.frombuffer(b"ERROR key or value too long", dtype=np.uint8)
_FULL = np.frombuffer(b"ERROR the store is full", dtype=np.uint8)


@jit.function
def _space(c: int) -> bool:  # bytes.strip()'s whitespace
    return c == 32 or 9 <= c <= 13


@jit.function
def _find(frame: np.ndarray, start: int, end: int) -> int:  # the first space in frame[start:end], or -1
    for i in range(start, end):
        if frame[i] == 32:
            return i
    return -1


@jit.function
def _is(frame: np.ndarray, start: int, end: int, word: bytes) -> bool:
    if end - start != len(word):
        return False
    for i in range(len(word)):  # noqa: SIM110 -- numba compiles no generator into all()
        if frame[start + i] != word[i]:
            return False
    return True


@jit.function
def _slot(frame: np.ndarray, start: int, end: int, keys: np.ndarray, key_lens: np.ndarray) -> int:
    """The key's slot, or the empty slot where it would go, or -1 when the table is full."""
    hsh = 2166136261  # FNV-1a
    for i in range(start, end):
        hsh = ((hsh ^ int(frame[i])) * 16777619) & 0xFFFFFFFF
    n = end - start
    for probe in range(SLOTS):
        s = (hsh + probe) & (SLOTS - 1)
        if key_lens[s] == 0:
            return s
        if key_lens[s] == n + 1:  # lengths are stored + 1: 0 marks an empty slot (keys may be empty)
            same = True
            for i in range(n):
                if keys[s, i] != frame[start + i]:
                    same = False
                    break
            if same:
                return s
    return -1


@jit.function
def _answer(frame: np.ndarray, h, text: np.ndarray) -> int:
    return jit.set_payload(frame, h, text, len(text))


def _kv(frame: np.ndarray, length: int, h, keys: np.ndarray, key_lens: np.ndarray, values: np.ndarray,
        value_lens: np.ndarray) -> int:
    if not h.udp or h.payload < 0 or h.l4_csum == CSUM_BAD:
        return jit.DROP
    start, end = h.payload, min(h.l4 + jit.get_u16(frame, h.l4 + 4), length)  # the datagram, by its UDP length
    while start < end and _space(frame[start]):  # request.strip()
        start += 1
    while end > start and _space(frame[end - 1]):
        end -= 1
    first = _find(frame, start, end)  # request.split(b" ", 2)
    second = _find(frame, first + 1, end) if first >= 0 else -1
    jit.reflect(frame, h)  # the answer goes back where the request came from
    if second >= 0 and _is(frame, start, first, b"SET"):
        klen, vlen = second - first - 1, end - second - 1
        if klen > KEY_MAX or vlen > VALUE_MAX:
            return _answer(frame, h, _TOO_LONG)
        s = _slot(frame, first + 1, second, keys, key_lens)
        if s < 0:
            return _answer(frame, h, _FULL)
        keys[s, :klen] = frame[first + 1:second]
        key_lens[s] = klen + 1
        values[s, :vlen] = frame[second + 1:end]
        value_lens[s] = vlen
        return _answer(frame, h, _OK)
    if first >= 0 and second < 0 and _is(frame, start, first, b"GET"):
        s = _slot(frame, first + 1, end, keys, key_lens) if end - first - 1 <= KEY_MAX else -1
        if s < 0 or key_lens[s] == 0:
            return _answer(frame, h, _NOT_FOUND)
        n = value_lens[s]
        p = h.payload
        if p + len(_VALUE) + n > len(frame):
            return jit.INVALID
        frame[p:p + len(_VALUE)] = _VALUE
        frame[p + len(_VALUE):p + len(_VALUE) + n] = values[s, :n]
        return jit.set_payload_length(frame, h, len(_VALUE) + n)
    return _answer(frame, h, _ERROR)


class CompiledStore:
    """The store as arrays, and its frame handler (``handler``), compiled by numba."""

    def __init__(self) -> None:
        self.keys = np.zeros((SLOTS, KEY_MAX), dtype=np.uint8)
        self.key_lens = np.zeros(SLOTS, dtype=np.int32)  # key length + 1; 0: empty
        self.values = np.zeros((SLOTS, VALUE_MAX), dtype=np.uint8)
        self.value_lens = np.zeros(SLOTS, dtype=np.int32)
        self.handler = jit.handler(_kv, state=(self.keys, self.key_lens, self.values, self.value_lens))

    def __len__(self) -> int:
        return int(np.count_nonzero(self.key_lens))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ifname")
    p.add_argument("--netns")
    p.add_argument("--port", type=int, default=7400)
    p.add_argument("--queue", type=int, default=0)
    p.add_argument("--compiled", action="store_true", help="run the compiled store (needs numba)")
    args = p.parse_args()
    store: Store | CompiledStore = CompiledStore() if args.compiled else Store()
    if isinstance(store, CompiledStore):
        store.handler.compile()  # numba's work (seconds) before the socket takes traffic
    with xsk.Umem(frame_count=4096) as umem:
        with xsk.Socket(umem, args.ifname, queue=args.queue, netns=args.netns, filter=f"udp:{args.port}") as sock:
            print(json.dumps({"listening": args.port, "mode": sock.mode}), flush=True)
            stats = Runner(sock, store.handler, verify_checksums=True).run()
        print(json.dumps({"received": stats.received, "answered": stats.replied, "keys": len(store),
                          "accounting": umem.accounting()._asdict()}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
