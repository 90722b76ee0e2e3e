"""Reused batches (``into=``) over a veth pair: the allocation-free data path loses nothing."""

import time

import numpy as np

import xsk

from .traffic import SEQ_OFFSET, Receiver, seq_rows, template


def test_take_send_recv_release_with_two_reused_batches(veth_pair, make_umem):
    a, b = veth_pair.a, veth_pair.b
    tx_umem, rx_umem = make_umem(), make_umem()
    tpl = template(veth_pair)
    total = 20_000
    with xsk.Socket(tx_umem, a.ifname, netns=a.netns, rx=False) as tx, \
         xsk.Socket(rx_umem, b.ifname, netns=b.netns, tx=False) as rx:
        check = Receiver(rx, tpl)
        out = inb = None
        sent = 0
        deadline = time.monotonic() + 30
        while check.received < total and time.monotonic() < deadline:
            if sent < total:
                out = tx_umem.take(min(64, total - sent), into=out)
                out.write_template(tpl)
                out.patch(SEQ_OFFSET, seq_rows(sent, len(out)))
                sent += tx.send(out)
                if len(out):
                    tx_umem.release(out)  # backpressure: these numbers go again
            inb = rx.recv(256, timeout=0.5, into=inb)
            if not len(inb):
                tx.flush()
                continue
            lens = inb.lens  # a view of the batch's buffer: read it before the batch is reused
            assert np.all(lens == len(tpl))
            check.check(inb)
            rx.release(inb)
        assert check.perfect and check.received == total
        assert tx.flush()
    assert tx_umem.accounting().pool == tx_umem.frame_count
    assert rx_umem.accounting().pool == rx_umem.frame_count
