"""The self-check ``xsk demo`` runs: sequence-numbered UDP frames across a throwaway veth pair.

An AF_XDP socket in namespace A sends; an AF_XDP socket in namespace B (in its own process, so
each side has a core) receives and verifies every byte of every frame and the order of the
sequence numbers. :func:`check` returns what it found; ``ok`` only if nothing was lost, nothing
was corrupted and both UMEMs' ownership accounting balances. :func:`build_template` is the frame
it sends (tools and tests send it too).

The pair, the receiver process, both UMEMs and sockets belong to :func:`check` and are gone
when it returns.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .._program import XdpMode
    from .._socket import Mode

SEQ_OFFSET = 42  # Ethernet (14) + IPv4 (20) + UDP (8): the payload starts with the sequence number


def build_template(size: int, src_mac: str, dst_mac: str, src_ip: str, dst_ip: str) -> bytes:
    """An Ethernet/IPv4/UDP frame of ``size`` bytes whose payload starts with a zero sequence number.

    The UDP checksum is 0 ("none", legal for IPv4) because the sequence number changes per frame;
    the IPv4 header checksum is computed by scapy and stays valid.
    """
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    filler = bytes((i * 7 + 3) & 0xFF for i in range(size - SEQ_OFFSET - 8))
    pkt = Ether(src=src_mac, dst=dst_mac) / IP(src=src_ip, dst=dst_ip) / UDP(sport=1234, dport=9000, chksum=0)
    frame = bytes(pkt / (bytes(8) + filler))
    if len(frame) != size:
        raise ValueError(f"template is {len(frame)} bytes, expected {size}")
    return frame


def seq_rows(first: int, n: int) -> np.ndarray:
    """Big-endian 64-bit sequence numbers first..first+n-1 as (n, 8) bytes."""
    return np.arange(first, first + n, dtype=">u8").view(np.uint8).reshape(n, 8)


def _receiver(args: dict[str, Any], template: bytes, conn: Connection, progress: Any) -> None:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import xsk

    size = len(template)
    expected_row = np.frombuffer(template, dtype=np.uint8).copy()
    seq_cols = slice(SEQ_OFFSET, SEQ_OFFSET + 8)
    stats: dict[str, Any] = {"received": 0, "corrupt": 0, "out_of_order": 0}
    with xsk.Umem(frame_size=args["frame_size"]) as umem, xsk.Socket(
        umem, args["ifname"], netns=args["netns"], tx=False, mode=args["mode"], xdp_mode=args["xdp_mode"]
    ) as sock:
        conn.send({"ready": True, "mode": sock.mode, "xdp_mode": sock.xdp_mode, "hugepages": umem.hugepages})
        next_seq = 0
        first = last = 0.0
        sender_done_at = None
        while stats["received"] < args["count"]:
            batch = sock.recv(args["batch"], timeout=0.05)
            n = len(batch)
            if n:
                now = time.monotonic()
                first = first or now
                last = now
                rows = batch.gather(size)
                seqs = rows[:, seq_cols].copy().view(">u8").ravel()
                rows[:, seq_cols] = 0
                bad = np.count_nonzero(batch.lens != size) + np.count_nonzero(np.any(rows != expected_row, axis=1))
                stats["corrupt"] += int(bad)
                want = np.arange(next_seq, next_seq + n, dtype=np.uint64)
                stats["out_of_order"] += int(np.count_nonzero(seqs != want))
                next_seq = int(seqs[-1]) + 1
                stats["received"] += n
                batch.release()
                progress.value = stats["received"]
            elif sender_done_at is None and conn.poll():
                conn.recv()
                sender_done_at = time.monotonic()
            elif sender_done_at is not None and time.monotonic() - sender_done_at > 1.0:
                break  # the sender finished a second ago and nothing more came
        stats["seconds"] = last - first
        stats["kernel"] = sock.statistics()
        sock.close()
        stats["accounting"] = umem.accounting()._asdict()
    conn.send(stats)


def check(count: int = 1_000_000, *, batch: int = 256, size: int = 64, frame_size: int = 2048, mode: Mode = "auto",
          xdp_mode: XdpMode = "auto", in_flight: int = 256, window: int = 1536) -> dict[str, Any]:
    """Send ``count`` frames of ``size`` bytes across a new veth pair and verify each on arrival.

    ``in_flight``: most frames sent but not completed (veth has no backpressure: its peer queue
    holds 256 frames, and frames beyond it are dropped by the kernel); ``window``: most frames
    sent ahead of what the receiver has consumed (its RX ring holds 2048). The result: sent,
    received, lost, corrupt, out_of_order, the rates (Mpps), bind and XDP modes, hugepages, both
    UMEMs' accounting, the receiver's kernel counters, the veth counters and ``ok``.
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import xsk
    from xsk.testing import VethPair

    with VethPair() as pair:
        template = build_template(size, pair.a.mac, pair.b.mac, pair.a.ip or "", pair.b.ip or "")
        ctx = mp.get_context("spawn")
        parent_conn, child_conn = ctx.Pipe()
        progress = ctx.RawValue("Q", 0)  # frames the receiver has taken off its ring
        rx_args = {"ifname": pair.b.ifname, "netns": pair.b.netns, "count": count, "batch": batch,
                   "frame_size": frame_size, "mode": mode, "xdp_mode": xdp_mode}
        child = ctx.Process(target=_receiver, args=(rx_args, template, child_conn, progress), daemon=True)
        child.start()
        try:
            if not parent_conn.poll(30):
                raise xsk.XskError("the receiver did not start within 30 s")
            ready = parent_conn.recv()
            sent, tx_seconds, tx_info = _send(pair, template, progress, count=count, batch=batch,
                                              frame_size=frame_size, mode=mode, in_flight=in_flight, window=window)
            parent_conn.send("done")
            if not parent_conn.poll(60):
                raise xsk.XskError("the receiver did not report within 60 s")
            rx = parent_conn.recv()
            link_counters = pair.counters()
        finally:
            child.join(5)
            if child.is_alive():
                child.kill()
    lost = sent - rx["received"]
    balanced_rx = sum(v for k, v in rx["accounting"].items() if k != "total") == rx["accounting"]["total"]
    ok = (
        lost == 0 and rx["corrupt"] == 0 and rx["out_of_order"] == 0 and sent == count
        and tx_info["accounting"]["pool"] == tx_info["accounting"]["total"]
        and rx["accounting"]["pool"] == rx["accounting"]["total"] and balanced_rx
    )
    return {
        "sent": sent, "received": rx["received"], "lost": lost, "corrupt": rx["corrupt"],
        "out_of_order": rx["out_of_order"],
        "tx_mpps": round(sent / tx_seconds / 1e6, 3) if tx_seconds else 0.0,
        "rx_mpps": round(rx["received"] / rx["seconds"] / 1e6, 3) if rx["seconds"] else 0.0,
        "mode": ready["mode"], "xdp_mode": ready["xdp_mode"],
        "hugepages": {"tx": tx_info["hugepages"], "rx": ready["hugepages"]},
        "accounting": {"tx": tx_info["accounting"], "rx": rx["accounting"]},
        "kernel": rx["kernel"], "veth": link_counters, "ok": ok,
    }


def _send(pair: Any, template: bytes, progress: Any, *, count: int, batch: int, frame_size: int, mode: Mode,
          in_flight: int, window: int) -> tuple[int, float, dict[str, Any]]:
    """Send ``count`` frames, never more than ``window`` ahead of the receiver.

    veth has no backpressure: frames beyond what the receiver's ring holds are dropped
    (rx_ring_full) whenever the receiving process is descheduled for a few milliseconds,
    which on a shared 2-core machine happens. The receiver publishes how many frames it
    has consumed; the sender keeps its lead below the ring size.
    """
    import xsk

    with xsk.Umem(frame_size=frame_size) as umem:
        with xsk.Socket(umem, pair.a.ifname, netns=pair.a.netns, rx=False, mode=mode) as sock:
            everything = umem.take(umem.frame_count)
            everything.write_template(template)  # frames keep their bytes in the pool: only sequence numbers change
            umem.release(everything)
            sent = 0
            pending = umem.take(0)
            t0 = time.monotonic()
            while sent < count:
                if not len(pending):
                    on_tx = umem.accounting().tx  # on the TX ring, not yet completed
                    room = min(in_flight - on_tx, window - (sent - progress.value))
                    pending = umem.take(max(0, min(batch, room, count - sent)))
                    if not len(pending):
                        sock.complete()
                        continue
                    pending.lens[:] = len(template)
                    pending.patch(SEQ_OFFSET, seq_rows(sent, len(pending)))
                sent += sock.send(pending)
            sock.flush(timeout=5)
            seconds = time.monotonic() - t0
        info = {"accounting": umem.accounting()._asdict(), "hugepages": umem.hugepages}
    return sent, seconds, info


__all__ = ["SEQ_OFFSET", "build_template", "check", "seq_rows"]
