"""``xsk demo``: one million sequence-numbered UDP frames across a throwaway veth pair.

An AF_XDP socket in namespace A sends; an AF_XDP socket in namespace B (in its own
process, so each side has a core) receives and verifies every byte of every frame and
the order of the sequence numbers. Exit status 0 only if nothing was lost, nothing
was corrupted and both UMEMs' ownership accounting balances.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import time
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

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


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import xsk
    from xsk.testing import VethPair

    with VethPair() as pair:
        template = build_template(args.size, pair.a.mac, pair.b.mac, pair.a.ip or "", pair.b.ip or "")
        ctx = mp.get_context("spawn")
        parent_conn, child_conn = ctx.Pipe()
        progress = ctx.RawValue("Q", 0)  # frames the receiver has taken off its ring
        rx_args = {
            "ifname": pair.b.ifname, "netns": pair.b.netns, "count": args.count, "batch": args.batch,
            "frame_size": args.frame_size, "mode": args.mode, "xdp_mode": args.xdp_mode,
        }
        child = ctx.Process(target=_receiver, args=(rx_args, template, child_conn, progress), daemon=True)
        child.start()
        try:
            if not parent_conn.poll(30):
                raise xsk.XskError("the receiver did not start within 30 s")
            ready = parent_conn.recv()
            sent, tx_seconds, tx_info = _send(args, pair, template, progress)
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
        lost == 0 and rx["corrupt"] == 0 and rx["out_of_order"] == 0 and sent == args.count
        and tx_info["accounting"]["pool"] == tx_info["accounting"]["total"]
        and rx["accounting"]["pool"] == rx["accounting"]["total"] and balanced_rx
    )
    result = {
        "sent": sent, "received": rx["received"], "lost": lost, "corrupt": rx["corrupt"],
        "out_of_order": rx["out_of_order"],
        "tx_mpps": round(sent / tx_seconds / 1e6, 3) if tx_seconds else 0.0,
        "rx_mpps": round(rx["received"] / rx["seconds"] / 1e6, 3) if rx["seconds"] else 0.0,
        "mode": ready["mode"], "xdp_mode": ready["xdp_mode"],
        "hugepages": {"tx": tx_info["hugepages"], "rx": ready["hugepages"]},
        "accounting": {"tx": tx_info["accounting"], "rx": rx["accounting"]},
        "kernel": rx["kernel"], "veth": link_counters, "ok": ok,
    }
    if args.json:
        print(json.dumps(result))
    else:
        _print(result)
    return 0 if ok else 1


def _send(
    args: argparse.Namespace, pair: Any, template: bytes, progress: Any
) -> tuple[int, float, dict[str, Any]]:
    """Send ``args.count`` frames, never more than ``args.window`` ahead of the receiver.

    veth has no backpressure: frames beyond what the receiver's ring holds are dropped
    (rx_ring_full) whenever the receiving process is descheduled for a few milliseconds,
    which on a shared 2-core machine happens. The receiver publishes how many frames it
    has consumed; the sender keeps its lead below the ring size.
    """
    import xsk

    with xsk.Umem(frame_size=args.frame_size) as umem:
        with xsk.Socket(umem, pair.a.ifname, netns=pair.a.netns, rx=False, mode=args.mode) as sock:
            everything = umem.take(umem.frame_count)
            everything.fill(template)  # frames keep their bytes in the pool: only sequence numbers change
            umem.release(everything)
            sent = 0
            pending = umem.take(0)
            t0 = time.monotonic()
            while sent < args.count:
                if not len(pending):
                    in_flight = umem.ledger.c.counts[3]  # on the TX ring, not yet completed
                    room = min(args.in_flight - in_flight, args.window - (sent - progress.value))
                    pending = umem.take(max(0, min(args.batch, room, args.count - sent)))
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


def _print(r: dict[str, Any]) -> None:
    acc_tx, acc_rx = r["accounting"]["tx"], r["accounting"]["rx"]
    print(f"sent      {r['sent']:>12,}   ({r['tx_mpps']:.3f} Mpps)")
    print(f"received  {r['received']:>12,}   ({r['rx_mpps']:.3f} Mpps)")
    print(f"lost      {r['lost']:>12,}")
    print(f"corrupt   {r['corrupt']:>12,}   out of order {r['out_of_order']:,}")
    print(f"mode      {r['mode']} (XDP program: {r['xdp_mode']}); hugepages tx={r['hugepages']['tx']} "
          f"rx={r['hugepages']['rx']}")
    for name, acc in (("tx", acc_tx), ("rx", acc_rx)):
        print(f"frames {name}  pool={acc['pool']} user={acc['user']} fill={acc['fill']} tx={acc['tx']} "
              f"total={acc['total']}")
    print(f"kernel    {r['kernel']}")
    drops = {f"{end}_{k}": v for end, c in r["veth"].items() for k, v in c.items() if k.endswith("dropped") and v}
    if drops:
        print(f"veth      drops {drops}")
    print("OK: every frame arrived, in order, byte for byte" if r["ok"] else "FAILED")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--count", type=int, default=1_000_000, help="frames to send (default 1,000,000)")
    p.add_argument("--batch", type=int, default=256, help="frames per ring operation (default 256)")
    p.add_argument("--size", type=int, default=64, help="frame length in bytes, 60..frame size (default 64)")
    p.add_argument("--frame-size", type=int, default=2048, choices=(2048, 4096))
    p.add_argument("--mode", default="auto", choices=("auto", "copy", "zerocopy"))
    p.add_argument("--xdp-mode", default="auto", choices=("auto", "native", "skb"))
    p.add_argument(
        "--in-flight", type=int, default=256,
        help="most frames sent but not completed (veth has no backpressure: its peer queue holds 256 "
        "frames, and frames beyond it are dropped by the kernel); default 256",
    )
    p.add_argument(
        "--window", type=int, default=1536,
        help="most frames sent ahead of what the receiver has consumed (its RX ring holds 2048); default 1536",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)
