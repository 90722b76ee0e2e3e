"""Socket.forward over a veth pair: B reflects what A sends, in one C call per batch."""

import time

import xsk

from .traffic import Receiver, send_seq, template


def test_forward_reflects_every_frame_with_macs_swapped(veth_pair, make_umem):
    a, b = veth_pair.a, veth_pair.b
    tpl = template(veth_pair)
    reflected = tpl[6:12] + tpl[0:6] + tpl[12:]  # what A gets back: only the MACs exchanged
    total, chunk = 20_000, 500
    a_umem, b_umem = make_umem(), make_umem()
    with xsk.Socket(a_umem, a.ifname, netns=a.netns) as sa, xsk.Socket(b_umem, b.ifname, netns=b.netns) as sb:
        check = Receiver(sa, reflected)
        forwarded = sent = 0
        deadline = time.monotonic() + 30
        while check.received < total and time.monotonic() < deadline:
            sent += send_seq(sa, tpl, sent, chunk)
            sa.flush(timeout=2)
            while forwarded < sent and time.monotonic() < deadline:
                forwarded += sb.forward(256, timeout=0.2, swap_macs=True)
                acc = b_umem.accounting()
                assert acc.user == 0  # B never owns a forwarded frame
                assert acc.pool + acc.fill + acc.tx == b_umem.frame_count
            sb.flush(timeout=2)
            check.drain(sent)
        assert forwarded == sent == total
        assert check.received == total and check.perfect, vars(check)
        assert sb.statistics()["rx_dropped"] == 0
    for umem in (a_umem, b_umem):
        assert umem.accounting().pool == umem.frame_count
        assert umem.ledger.kernel_errors == 0


def test_xsk_fwd_reflects_numbered_frames_through_the_fused_path(veth_pair, make_umem):
    """`xsk fwd` without --swap-ip/--swap-ports forwards with Socket.forward: every frame back, in order."""
    from .test_cli import finish, last_json, start, wait_attached

    a, b = veth_pair.a, veth_pair.b
    tpl = template(veth_pair)
    total = 3000
    fwd = start("fwd", b.ifname, "--netns", b.netns, "--count", str(total), "--json")
    try:
        wait_attached(b)
        umem = make_umem()
        with xsk.Socket(umem, a.ifname, netns=a.netns) as sa:
            check = Receiver(sa, tpl[6:12] + tpl[0:6] + tpl[12:])
            sent = 0
            while sent < total:
                sent += send_seq(sa, tpl, sent, min(500, total - sent))
                sa.flush(timeout=2)
                check.drain(sent, timeout=5)
            assert check.received == total and check.perfect, vars(check)
    finally:
        out, err = finish(fwd)
    result = last_json(out)
    assert result["forwarded"] == total and result["kernel"]["rx_dropped"] == 0, (result, err[-500:])
