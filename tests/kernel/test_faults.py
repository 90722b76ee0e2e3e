"""Faults: a process killed mid-transfer leaves nothing the next run can't clean up."""

import signal
import subprocess
import sys
import textwrap

import xsk

from .traffic import Receiver, send_seq, template


def test_sigkill_mid_transfer_then_the_next_run_starts_cleanly(veth_pair, make_umem):
    a, b = veth_pair.a, veth_pair.b
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time, xsk
        umem = xsk.Umem()
        sock = xsk.Socket(umem, {b.ifname!r}, netns={b.netns!r}, tx=False)
        print("ready", flush=True)
        while True:
            batch = sock.recv(256, timeout=0.1)
            batch.release()
    """)], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    ua = make_umem()
    with xsk.Socket(ua, a.ifname, netns=a.netns, rx=False) as tx:
        tpl = template(veth_pair)
        assert send_seq(tx, tpl, 0, 2000) == 2000  # traffic flowing into the child's socket
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        shown = subprocess.run(["ip", "-n", b.netns, "-o", "link", "show", "dev", b.ifname],
                               capture_output=True, text=True).stdout
        assert "prog/xdp" in shown  # the dead process's program is still attached...
        ub = make_umem()
        with xsk.Socket(ub, b.ifname, netns=b.netns, tx=False) as rx:  # ...and the next run replaces it
            r = Receiver(rx, tpl)
            assert send_seq(tx, tpl, 0, 1000) == 1000
            tx.flush()
            assert r.drain(1000) == 1000 and r.perfect
    shown = subprocess.run(["ip", "-n", b.netns, "-o", "link", "show", "dev", b.ifname],
                           capture_output=True, text=True).stdout
    assert "prog/xdp" not in shown
