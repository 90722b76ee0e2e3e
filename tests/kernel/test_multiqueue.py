"""Several queues of one interface: one shared UMEM (XDP_SHARED_UMEM) or one UMEM each."""

import pytest

import xsk

from .traffic import Receiver, send_seq, template


@pytest.mark.parametrize("shared", [True, False], ids=["shared-umem", "umem-each"])
def test_two_queues(veth_pair_factory, make_umem, shared):
    pair = veth_pair_factory(queues=2)
    a, b = pair.a, pair.b
    rx_umems = [make_umem()] * 2 if shared else [make_umem(), make_umem()]
    tx_umems = [make_umem(), make_umem()]
    tpl = template(pair)
    with xsk.Socket(tx_umems[0], a.ifname, queue=0, netns=a.netns, rx=False) as tx0, \
         xsk.Socket(tx_umems[1], a.ifname, queue=1, netns=a.netns, rx=False) as tx1, \
         xsk.Socket(rx_umems[0], b.ifname, queue=0, netns=b.netns, tx=False) as rx0, \
         xsk.Socket(rx_umems[1], b.ifname, queue=1, netns=b.netns, tx=False) as rx1:
        assert rx0._place.program is rx1._place.program  # one XDP program serves both queues
        receivers = [Receiver(rx0, tpl), Receiver(rx1, tpl)]
        for first in range(0, 6000, 500):
            for tx in (tx0, tx1):
                assert send_seq(tx, tpl, first, 500) == 500
                tx.flush()
            for r in receivers:
                r.drain(first + 500)
        # veth maps TX queue q of one end to RX queue q of the other
        assert [r.received for r in receivers] == [6000, 6000]
        assert all(r.perfect for r in receivers)
        if shared:
            acc = rx_umems[0].accounting()
            assert acc.fill == rx0.fill_frames + rx1.fill_frames and acc.balanced
    for umem in {id(u): u for u in rx_umems + tx_umems}.values():
        assert umem.accounting().pool == umem.frame_count


def test_shared_umem_socket_closed_first_keeps_the_other_working(veth_pair_factory, make_umem):
    pair = veth_pair_factory(queues=2)
    a, b = pair.a, pair.b
    umem = make_umem()
    tpl = template(pair)
    first = xsk.Socket(umem, b.ifname, queue=0, netns=b.netns, tx=False)
    with xsk.Socket(make_umem(), a.ifname, queue=1, netns=a.netns, rx=False) as tx, \
         xsk.Socket(umem, b.ifname, queue=1, netns=b.netns, tx=False) as second:
        first.close()  # the socket whose fd carries the UMEM registration
        r = Receiver(second, tpl)
        assert send_seq(tx, tpl, 0, 1000) == 1000
        tx.flush()
        assert r.drain(1000) == 1000 and r.perfect
    assert umem.accounting().pool == umem.frame_count


def test_one_socket_per_queue_and_umem(veth_pair, make_umem):
    umem = make_umem(frame_count=256)
    with xsk.Socket(umem, veth_pair.a.ifname, netns=veth_pair.a.netns, rx=False), \
         pytest.raises(xsk.ConfigError, match="one socket per queue"):
        xsk.Socket(umem, veth_pair.a.ifname, netns=veth_pair.a.netns, tx=False)
