"""AF_XDP TX metadata over veth (xsk.txmeta), copy mode: a completion timestamp per frame, a UDP
checksum the sender leaves partial and the kernel fills in, and ``xsk gen --tx-timestamps``.

Which tests run is declared up front from what the build can do (``lib.XSK_HAVE_TX_METADATA``:
its libxdp has xsk_umem__create_opts, libxdp 1.5+, e.g. Debian 13): with it the real ones; without
it (Debian 12's libxdp 1.3.1) the refusal, which must name the libxdp found and what is needed.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

import xsk
from xsk import txmeta
from xsk._binding import ffi, lib

from .test_cli import finish, last_json, nothing_attached, start, wait_attached
from .test_cli import xsk as xsk_cli

HAVE = bool(lib.XSK_HAVE_TX_METADATA)
needs_tx_metadata = pytest.mark.skipif(
    not HAVE, reason=f"libxdp {txmeta.LIBXDP_VERSION} can't register a UMEM with TX metadata (libxdp 1.5+, "
                     "e.g. Debian 13: tools/debian13.sh)")
refused_here = pytest.mark.skipif(HAVE, reason="this build's libxdp registers UMEMs with TX metadata")

N = 64


def _frames(a, b, n: int = N) -> list[bytes]:
    """UDP datagrams from a to b whose checksum field is 0: request_tx(checksum=True) seeds it."""
    return [bytes(Ether(src=a.mac, dst=b.mac) / IP(src=a.ip, dst=b.ip, id=i) / UDP(sport=4000 + i, dport=9000,
                                                                                     chksum=0)
                  / Raw(b"tx metadata %03d" % i + bytes(i % 7))) for i in range(n)]


def _checksum_states(batch: xsk.Batch, umem: xsk.Umem) -> list[int]:
    """The engine's verdict on each frame's UDP checksum (XSK_CSUM_*), read in place."""
    hdrs = ffi.new("struct xsk_hdr[]", max(len(batch), 1))
    lib.xsk_pkt_parse_verified(umem.area_pointer(), ffi.from_buffer("uint64_t[]", np.ascontiguousarray(batch.addrs)),
                               ffi.from_buffer("uint32_t[]", batch.lens), len(batch), umem.size, umem.frame_size,
                               hdrs)
    return [int(hdrs[i].l4_csum) for i in range(len(batch))]


def _true_udp_checksum(frame: bytes) -> int:
    p = Ether(frame)
    p[UDP].chksum = None
    return int(Ether(bytes(p))[UDP].chksum)


def _receive(sock: xsk.Socket, want: int, timeout: float = 5.0) -> tuple[list[bytes], list[int]]:
    """Frames until ``want`` came or ``timeout``: their bytes and checksum states; frames go back to fill."""
    frames: list[bytes] = []
    states: list[int] = []
    deadline = time.monotonic() + timeout
    while len(frames) < want and time.monotonic() < deadline:
        b = sock.recv(256, timeout=0.05)
        if len(b):
            states += _checksum_states(b, sock.umem)
            frames += b.payloads()
            b.release()
    return frames, states


# --- Debian 12: the refusal ----------------------------------------------------------------------

@refused_here
def test_without_libxdp_1_5_tx_metadata_is_refused_naming_the_version(veth_pair):
    a = veth_pair.a
    with pytest.raises(xsk.UnsupportedError) as err:
        xsk.Umem(frame_count=64, tx_metadata=True)
    message = str(err.value)
    assert f"xsk was built against libxdp {txmeta.LIBXDP_VERSION}" in message
    assert "libxdp >= 1.5" in message and "xsk_umem__create_opts" in message and "Debian 13" in message
    r = xsk_cli("gen", a.ifname, "--netns", a.netns, "--count", "10", "--tx-timestamps")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("xsk gen: error: --tx-timestamps: AF_XDP TX metadata needs libxdp >= 1.5")
    assert f"libxdp {txmeta.LIBXDP_VERSION}" in line
    assert nothing_attached(a)


# --- Debian 13: over veth ------------------------------------------------------------------------

@needs_tx_metadata
def test_a_completion_timestamp_per_frame(veth_pair):
    a, b = veth_pair.a, veth_pair.b
    with xsk.Umem(frame_count=256, tx_metadata=True) as umem, \
            xsk.Socket(umem, a.ifname, netns=a.netns, rx=False, mode="copy") as tx, \
            xsk.Umem(frame_count=256) as rumem, xsk.Socket(rumem, b.ifname, netns=b.netns, filter="udp:9000") as rx:
        batch = umem.take_packets(_frames(a, b))
        assert set(batch.offsets) == {txmeta.METADATA_LEN}
        sent = batch.addrs.copy()
        batch.request_tx(timestamp=True)
        before = time.clock_gettime_ns(time.CLOCK_TAI)
        assert tx.send(batch) == N
        assert tx.flush(timeout=2)
        after = time.clock_gettime_ns(time.CLOCK_TAI)
        ts = tx.tx_timestamps()
        # one per frame, for the very addresses sent, in order, on the kernel's CLOCK_TAI (copy
        # mode: a software stamp as the veth hands the skb to its peer)
        assert ts.lost == 0 and ts.addrs.tolist() == sent.tolist()
        assert np.all(ts.ns != 0) and np.all(ts.ns >= before) and np.all(ts.ns <= after), (before, ts.ns, after)
        assert np.all(np.diff(ts.ns.astype(np.int64)) >= 0)
        print(f"sent {N} frames between CLOCK_TAI {before} and {after}; completion timestamps of the first "
              f"three: {[(hex(int(x)), int(t)) for x, t in zip(ts.addrs[:3], ts.ns[:3], strict=True)]}, "
              f"spread {int(ts.ns[-1] - ts.ns[0])} ns")  # shown with pytest -rP
        assert len(tx.tx_timestamps().addrs) == 0
        acc = umem.accounting()
        assert (acc.pool, acc.tx, acc.user) == (256, 0, 0)  # back in the pool exactly as without metadata
        got, _ = _receive(rx, N)
        assert got == _frames(a, b)  # every frame, as it was sent (the request lies before the data)
        # sent again without a request: no timestamps, and nothing stale is read from the areas
        again = umem.take_packets(_frames(a, b))
        assert tx.send(again) == N and tx.flush(timeout=2)
        assert len(tx.tx_timestamps().addrs) == 0
        assert len(_receive(rx, N)[0]) == N


@needs_tx_metadata
@pytest.mark.parametrize(("offload", "sw_checksum", "asked", "arrives"), [
    # veth without TX checksum offload (VethPair's default): the kernel sums a CHECKSUM_PARTIAL skb
    # in software before the device (validate_xmit_skb), so the request alone fills the field
    (False, False, True, "OK"),
    (False, False, False, "PARTIAL"),  # no request: the sender's partial sum goes out as it is
    # offload on: the device is asked to fill it in, and a veth passes it to its peer unfilled ...
    (True, False, True, "PARTIAL"),
    # ... unless the UMEM asks the kernel to compute it itself (XDP_UMEM_TX_SW_CSUM)
    (True, True, True, "OK"),
], ids=["device-without-offload", "no-request", "offload-to-veth", "sw-checksum"])
def test_a_udp_checksum_left_partial_arrives_filled_in_by_the_kernel(veth_pair_factory, offload, sw_checksum,
                                                                     asked, arrives):
    pair = veth_pair_factory(tx_checksum_offload=offload)
    a, b = pair.a, pair.b
    frames = _frames(a, b, 16)
    with xsk.Umem(frame_count=256, tx_metadata=True, tx_sw_checksum=sw_checksum) as umem, \
            xsk.Socket(umem, a.ifname, netns=a.netns, rx=False, mode="copy") as tx, \
            xsk.Umem(frame_count=256) as rumem, xsk.Socket(rumem, b.ifname, netns=b.netns, filter="udp:9000") as rx:
        batch = umem.take_packets(frames)
        batch.request_tx(checksum=True)
        assert set(_checksum_states(batch, umem)) == {lib.XSK_CSUM_PARTIAL}  # the sender left it partial
        batch_seeded = bytes(batch.data(0))
        if not asked:
            batch.request_tx()  # withdrawn: the seeded pseudo-header sum stays, nothing asks for more
        assert tx.send(batch) == 16 and tx.flush(timeout=2)
        got, states = _receive(rx, 16)
        assert len(got) == 16
        assert set(states) == {getattr(lib, f"XSK_CSUM_{arrives}")}, states
        for frame in got:  # scapy agrees with the engine
            assert (Ether(frame)[UDP].chksum == _true_udp_checksum(frame)) == (arrives == "OK")
        print(f"offload={offload} sw_checksum={sw_checksum} asked={asked}: sent with UDP checksum "
              f"{Ether(batch_seeded)[UDP].chksum:#06x} (pseudo-header sum), arrived with "
              f"{Ether(got[0])[UDP].chksum:#06x}; correct: {_true_udp_checksum(got[0]):#06x}")  # pytest -rP


@needs_tx_metadata
def test_gen_tx_timestamps_measures_every_frame(veth_pair):
    a, b = veth_pair.a, veth_pair.b
    sink = start("sink", b.ifname, "--netns", b.netns, "--count", "3000", "--json")
    wait_attached(b)
    gen = xsk_cli("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--count", "3000", "--rate", "30k",
                  "--tx-timestamps", "--verify-ledger", "--json")
    assert gen.returncode == 0, gen.stderr
    g = last_json(gen.stdout)
    t = g["tx_timestamps"]
    assert (g["packets"], t["frames"], t["missing"], t["lost"], t["clock"]) == (3000, 3000, 0, 0, "CLOCK_TAI")
    d = t["header_to_kernel_us"]
    assert 0 <= d["min"] <= d["p50"] <= d["p99"] <= d["max"] < 1_000_000, d
    print(f"xsk gen --tx-timestamps: {t}")  # pytest -rP
    s = last_json(finish(sink)[0])
    assert s["packets"] == 3000 and s["lost"] == 0
    assert nothing_attached(a, b)


@needs_tx_metadata
def test_gen_tx_timestamps_refuses_what_it_cannot_measure(veth_pair, tmp_path):
    a = veth_pair.a
    r = xsk_cli("gen", a.ifname, "--netns", a.netns, "--count", "10", "--tx-timestamps", "--engine", "xdp")
    assert r.returncode == 2 and "needs --engine afxdp" in r.stderr and "Traceback" not in r.stderr
    assert nothing_attached(a)
