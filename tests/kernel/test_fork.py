"""fork() while traffic flows: the child can neither see the UMEM nor disturb the parent.

This is the get_user_pages + fork() copy-on-write failure, made impossible: the UMEM
and the rings are MADV_DONTFORK, so the child has no mapping to write to, and every
xsk object in the child refuses to act (closing it there is a no-op, so the child can't
detach the parent's XDP program or delete its sockets).
"""

import os
import subprocess

import xsk
from xsk._binding import ffi

from .traffic import Receiver, send_seq, template

CHILD_OK = 0


def _mapped(start: int, length: int) -> bool:
    """Is any readable or writable mapping in [start, start+length)?

    (In the child, xsk leaves a PROT_NONE placeholder where the UMEM was: reserved, not visible.)
    """
    with open("/proc/self/maps") as maps:
        for line in maps:
            span, perms = line.split()[:2]
            lo, hi = (int(x, 16) for x in span.split("-"))
            if lo < start + length and start < hi and perms[:2] != "--":
                return True
    return False


def _child_checks(ranges, ua, tx, rx) -> int:
    failures = 0
    for start, length in ranges:
        failures += _mapped(start, length)  # 1 per region still visible
    for attempt in (lambda: ua.take(1), lambda: tx.send(ua.take(1)), lambda: rx.recv(1, timeout=0)):
        try:
            attempt()
            failures += 10
        except xsk.ClosedError:
            pass
    # tearing down in the child must leave the parent's sockets and program alone
    tx.close()
    rx.close()
    ua.close()
    return failures


def test_fork_while_traffic_flows(veth_pair, make_umem):
    ua, ub = make_umem(), make_umem()
    with xsk.Socket(ua, veth_pair.a.ifname, netns=veth_pair.a.netns, rx=False) as tx, \
         xsk.Socket(ub, veth_pair.b.ifname, netns=veth_pair.b.netns, tx=False) as rx:
        tpl = template(veth_pair)
        receiver = Receiver(rx, tpl)
        ranges = [(int(ffi.cast("uintptr_t", ffi.from_buffer(u._map))), u.size) for u in (ua, ub)]
        rings = (tx._tx, tx._place.group.cq, rx._rx, rx._place.group.fq)
        ranges += [(int(ffi.cast("uintptr_t", r.ring)), 4096) for r in rings]
        assert all(_mapped(start, length) for start, length in ranges)
        sent = 0
        child = None
        while sent < 40_000:
            assert send_seq(tx, tpl, sent, 400) == 400
            sent += 400
            if sent == 20_000:
                child = os.fork()  # frames are in flight on both sides right now
                if child == 0:
                    code = 99
                    try:
                        code = _child_checks(ranges, ua, tx, rx)
                    finally:
                        os._exit(code)
            tx.flush()
            receiver.drain(sent)
        assert child is not None  # forked at 20,000
        _, status = os.waitpid(child, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == CHILD_OK, f"child status {status:#x}"
        # after the child is gone the parent still works, byte for byte
        assert send_seq(tx, tpl, sent, 1000) == 1000
        tx.flush()
        receiver.drain(sent + 1000)
        assert receiver.received == sent + 1000 and receiver.perfect
        shown = subprocess.run(["ip", "-n", veth_pair.b.netns, "-o", "link", "show", "dev",
                                veth_pair.b.ifname],
                               capture_output=True, text=True, check=True).stdout
        assert "prog/xdp" in shown  # the child's exit left the parent's program attached
