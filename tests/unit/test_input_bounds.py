"""The bounds docs/security.md states on received frames, UMEM pinning and TX descriptors, each
checked at its edge: the limit taken, one byte more refused (or not read)."""

from __future__ import annotations

import json
import os
import resource
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

import xsk
from xsk import _privileges, headers
from xsk._binding import lib
from xsk.headers import CSUM_BAD, CSUM_OK
from xsk.testing import MemorySocket

ROOT = Path(__file__).resolve().parents[2]

# Runs in a child process: each frame is written so that its last byte is the last readable one
# (the page after it has no access), so a read past what a call may read kills the child with
# SIGSEGV instead of passing unseen. Prints one JSON result per call, as it goes.
_GUARDED = r"""
import ctypes, json, mmap, sys
import numpy as np
from xsk._binding import ffi, lib
from xsk.traffic._seqstats import SeqStats

PAGE = mmap.PAGESIZE
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
base = libc.mmap(None, 3 * PAGE, 3, 0x22, -1, 0)  # PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS
assert libc.mprotect(base + 2 * PAGE, PAGE, 0) == 0  # PROT_NONE from byte 2 * PAGE on
area = ffi.cast("uint8_t *", base)

for call, data, length, frame_size in json.load(sys.stdin):
    data = bytes.fromhex(data)
    addr = 2 * PAGE - len(data)
    ctypes.memmove(base + addr, data, len(data))
    addrs, lens = ffi.new("uint64_t[1]", [addr]), ffi.new("uint32_t[1]", [length])
    out = ffi.new("struct xsk_hdr[1]")
    if call == "parse":
        lib.xsk_pkt_parse(area, addrs, lens, 1, frame_size, out)
        h = out[0]
        result = [h.ip_version, h.vlan, h.l4, h.src_port, h.dst_port, h.payload]
    elif call == "seq":
        s = SeqStats()
        s._scan(area, np.array([addr], dtype=np.uint64), np.array([length], dtype=np.uint32), frame_size, 0)
        result = s.with_seq
    else:
        lib.xsk_pkt_parse_verified(area, addrs, lens, 1, 3 * PAGE, frame_size, out)
        result = out[0].l4_csum
    print(json.dumps(result), flush=True)
"""
ROOMY = 1 << 20  # a UMEM frame size that leaves the frame more room than any length here


def _guarded(calls: list[tuple[str, bytes, int, int]]) -> list:
    """Each (call, frame bytes, length, UMEM frame size), run where reading past the bytes faults."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    stdin = json.dumps([(call, data.hex(), length, frame_size) for call, data, length, frame_size in calls])
    proc = subprocess.run([sys.executable, "-c", _GUARDED], input=stdin, capture_output=True, text=True, env=env,
                          timeout=120)
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 0, f"call {len(results)} read past what it may (signal {-proc.returncode}): {proc.stderr}"
    return results


def _deepest_frame() -> bytes:
    """The deepest header stack the parser reads, with xsk's 18-byte sequence header after it:
    Ethernet with two VLAN tags (22 bytes), IPv4 with 40 bytes of options (60), TCP with 40 bytes
    of options (60), "XK" + sequence + send time (18): exactly 160 bytes."""
    eth = bytes.fromhex("020000000002020000000001") + struct.pack(">HHHHH", 0x88A8, 7, 0x8100, 9, 0x0800)
    ip = struct.pack(">BBHHHBBH4s4s", 0x4F, 0, 138, 0, 0, 64, 6, 0, bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2]))
    tcp = struct.pack(">HHIIBBHHH", 40000, 9000, 0, 0, 0xF0, 0x18, 65535, 0, 0)
    frame = eth + ip + b"\x01" * 40 + tcp + b"\x01" * 40 + b"XK" + struct.pack(">QQ", 7, 1)
    assert len(frame) == 160
    return frame


def test_frames_are_parsed_reading_at_most_160_bytes_never_past_their_length_or_frame():
    """docs/security.md: frames are parsed reading at most 160 bytes of each, never past its
    length or its UMEM frame. The deepest frame the parser knows ends at byte 160: it is parsed
    whole and its sequence header read with nothing readable after byte 160, though its length
    says 4096 and its UMEM frame more. Cut at byte 60 by its length, or by the end of its UMEM
    frame (the frame 60 bytes before it), nothing from byte 60 on is read. (The 160th byte is
    read: with it made unreadable too, the child faults, which shows the guard works.)"""
    assert headers.HEAD == lib.XSK_PKT_HEAD == 160
    frame = _deepest_frame()
    whole, seq, by_length, by_frame = _guarded([
        ("parse", frame, 4096, ROOMY), ("seq", frame, 4096, ROOMY),
        ("parse", frame[:60], 60, ROOMY), ("parse", frame[:60], 4096, 8192),
    ])
    assert whole == [4, 7, 82, 40000, 9000, 142]  # IPv4, outer VLAN 7, TCP at 82, payload at 142
    assert seq == 1  # the sequence header at bytes 142..159, the last the parser may read
    with pytest.raises(AssertionError, match="call 0 read past what it may"):
        _guarded([("seq", frame[:159], 4096, ROOMY)])  # the 160th byte is read: with it unreadable, the child faults
    assert by_length[:5] == by_frame[:5] == [4, 7, 82, 0, 0]  # IPv4 seen; the TCP header past byte 60 is not


def test_checksums_sum_only_what_the_ip_header_claims_and_the_frame_holds():
    """docs/security.md: the checksum check sums only the bytes the IP header claims and the
    frame holds; a longer claim is a bad checksum. A 52-byte UDP datagram frame is valid when its
    length and its UMEM frame hold all 52 bytes; one byte less in either, and it is bad, with the
    52nd byte never read (nothing is readable after the frame's bytes)."""
    frame = bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src="192.0.2.1", dst="192.0.2.2")
                  / UDP(sport=1, dport=2) / (b"x" * 10))
    assert len(frame) == 52
    states = _guarded([
        ("verified", frame, 52, ROOMY), ("verified", frame, 52, 8192),  # its UMEM frame ends at byte 52
        ("verified", frame[:51], 51, ROOMY), ("verified", frame[:51], 52, 8192),  # the length, or the frame, is short
    ])
    assert states == [CSUM_OK, CSUM_OK, CSUM_BAD, CSUM_BAD]


def test_a_umem_over_rlimit_memlock_is_refused_up_front_without_cap_ipc_lock(monkeypatch):
    """docs/security.md: without CAP_IPC_LOCK a UMEM over RLIMIT_MEMLOCK is refused up front with
    both numbers. A 64 KiB UMEM is taken under a limit of exactly 65,536 bytes (or none), refused
    under 65,535; with CAP_IPC_LOCK the limit does not apply."""
    with xsk.Umem(frame_count=16, frame_size=4096, hugepages="off") as umem:
        assert umem.size == 65536
        monkeypatch.setattr(_privileges, "has", lambda cap: False)
        for limit in (65536, resource.RLIM_INFINITY, 65535):
            monkeypatch.setattr(resource, "getrlimit", lambda which, limit=limit: (limit, limit))
            if limit == 65535:
                with pytest.raises(xsk.PrivilegeError, match="a 64 KiB UMEM is more than this process may lock: "
                                                             "RLIMIT_MEMLOCK is 63 KiB and it has no CAP_IPC_LOCK"):
                    umem._check_memlock()
            else:
                umem._check_memlock()
        monkeypatch.setattr(_privileges, "has", lambda cap: cap == _privileges.CAP_IPC_LOCK)
        umem._check_memlock()


def test_send_refuses_a_descriptor_past_its_frame_with_the_frame_index():
    """docs/security.md: ``send`` refuses a descriptor that runs past its frame, with the frame's
    index, before the kernel sees it. Descriptors that end exactly at their frame's end go on the
    TX ring; one byte more, and the whole batch is refused, the ring untouched."""
    with xsk.Umem(frame_count=16, frame_size=2048, hugepages="off") as umem, \
         MemorySocket(umem, ring_size=64) as sock:
        tx = sock.rings["tx"]
        for lens, fits in (([2048, 2000], True), ([2048, 2001], False)):
            b = umem.take(2)
            b.set_offsets(np.array([0, 48]))
            b.lens[:] = lens
            before = int(tx.producer[0])
            if fits:
                assert sock.send(b) == 2 and int(tx.producer[0]) == before + 2
                assert sock.flush()
            else:
                refused = "frame 1 of the batch: 2001 bytes at offset 48 do not fit in a 2048-byte frame"
                with pytest.raises(xsk.FrameTooLargeError, match=refused):
                    sock.send(b)
                assert int(tx.producer[0]) == before and len(b) == 2
                b.release()
        sock.complete()
        acc = umem.accounting()
        assert acc.tx == acc.user == 0  # the sent frames completed, the refused ones given back
