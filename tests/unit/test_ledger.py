"""Every legal and illegal ownership transition, without a kernel: the ledger and the data path's
entry points are driven against rings in ordinary memory whose kernel side the test plays."""

import threading
import time

import numpy as np
import pytest

import xsk
from xsk._binding import ffi, lib

from ..ring_path import RingPath

FRAMES = 64


@pytest.fixture
def umem():
    with xsk.Umem(frame_count=FRAMES, frame_size=2048, hugepages="off") as u:
        yield u


def snapshot(umem):
    led = umem.ledger
    return led._word.copy(), int(led.c.pool_len), umem.accounting()


def assert_unchanged(umem, before):
    after = snapshot(umem)
    assert np.array_equal(before[0], after[0])
    assert np.array_equal(before[1], after[1])
    assert before[2:] == after[2:]


def fill(path, batch):
    k = path.fill(batch._addrs, batch._token)
    path.umem.ledger.raise_for(k, batch._addrs, path.c.bad, "fill")
    batch._consume(k)
    return k


def send(path, batch, check_bounds=True):
    k = path.send(batch._addrs, batch._lens, batch._token, check_bounds=check_bounds)
    if k == lib.XSK_ERR_BOUNDS:
        raise xsk.FrameTooLargeError("bounds")
    path.umem.ledger.raise_for(k, batch._addrs, path.c.bad, "send")
    batch._consume(k)
    return k


def test_fresh_umem_is_all_pool(umem):
    acc = umem.accounting()
    assert acc == (FRAMES, 0, 0, 0, FRAMES) and acc.balanced


def test_take_and_release(umem):
    b = umem.take(10)
    assert len(b) == 10 and umem.accounting().user == 10
    assert all(umem.state_of(int(a)) == "USER" for a in b.addrs)
    assert len(set(b.addrs.tolist())) == 10 and all(int(a) % 2048 == 0 for a in b.addrs)
    umem.release(b)
    assert umem.accounting().pool == FRAMES and b.spent


def test_take_more_than_pool_gives_what_there_is(umem):
    b = umem.take(FRAMES + 10)
    assert len(b) == FRAMES
    assert len(umem.take(5)) == 0
    umem.release(b)


def test_spent_batch_raises_on_every_use(umem):
    b = umem.take(4)
    umem.release(b)
    for use in (lambda: umem.release(b), lambda: b.addrs, lambda: b.data(0), lambda: b.release(),
                lambda: b.write(0, b"x"), lambda: b.split(1)):
        before = snapshot(umem)
        with pytest.raises(xsk.FrameOwnershipError):
            use()
        assert_unchanged(umem, before)


def test_views_are_revoked_when_the_batch_is_spent(umem):
    b = umem.take(1)
    b.write(0, b"hello")
    view = b.data(0)
    assert bytes(view) == b"hello"
    umem.release(b)
    with pytest.raises(ValueError):
        bytes(view)


def test_no_frame_goes_back_by_address_alone(umem):
    """Umem.release takes only a Batch, and the ledger releases a frame only for the batch that
    holds it: token 0 names no batch, so it is refused for every frame, held or not."""
    b = umem.take(2)
    a0, a1 = int(b.addrs[0]), int(b.addrs[1])
    with pytest.raises(TypeError, match="takes a Batch"):
        umem.release([a0])  # a live batch holds it: releasing it by address would alias it
    other = umem.take(1)
    free = next(f * 2048 for f in range(FRAMES) if umem.state_of(f * 2048) == "POOL")
    cases = [
        ([umem.size], 0, "outside the UMEM"),
        ([a0], 0, "another batch"),
        ([a0 + 1], 0, "another batch"),
        ([a1, a0], 0, "another batch"),
        ([free], 0, "free pool"),
        ([a0], other._token, "another batch"),  # a batch can't hand on another batch's frames
        ([a1, a0, a0], b._token, "appears twice"),
    ]
    for addrs, token, message in cases:
        before = snapshot(umem)
        with pytest.raises(xsk.FrameOwnershipError, match=message):
            umem.ledger.release(np.asarray(addrs, dtype=np.uint64), token)
        assert_unchanged(umem, before)
        umem.verify()
    umem.release(b)
    umem.release(other)
    assert umem.accounting().pool == FRAMES


def test_select_keeps_both_sides_in_order_with_their_lengths_and_options(umem):
    b = umem.take(6)
    addrs = b.addrs.copy()
    b.lens[:] = [60, 61, 62, 63, 64, 65]
    b.options[:] = [1, 0, 1, 0, 1, 0]
    mask = np.array([True, False, True, False, False, True])
    sel = b.select(mask)
    assert list(sel.addrs) == list(addrs[mask]) and list(sel.lens) == [60, 62, 65]
    assert list(sel.options) == [1, 1, 0]
    assert list(b.addrs) == list(addrs[~mask]) and list(b.lens) == [61, 63, 64]
    assert list(b.options) == [0, 0, 1]
    assert sel._token != b._token and umem.accounting().user == 6
    umem.verify()
    rest_all = b.select(np.ones(3, bool))  # everything: this batch keeps nothing, and owns nothing
    assert len(b) == 0 and list(rest_all.lens) == [61, 63, 64]
    none = sel.select(np.zeros(3, bool))
    assert len(none) == 0 and list(sel.lens) == [60, 62, 65]
    for batch in (sel, rest_all, none, b):
        batch.release()
    assert umem.accounting().pool == FRAMES
    umem.verify()


def test_select_after_a_partial_send_and_on_a_reused_batch(umem):
    """The batch's arrays and pointers after _consume (a partial send moves the pointers) and
    after into= reuse: select must read the frames the batch holds now, and leave lengths that
    a Headers parsed before still reads as they were."""
    path = RingPath(umem, size=4)
    b = umem.take(6)
    b.lens[:] = [60, 61, 62, 63, 64, 65]
    held = b.lens
    b.c_addrs(), b.c_lens()  # the data path's pointers, which a partial send moves
    assert send(path, b) == 4  # four fit the TX ring: the batch keeps the last two
    assert list(b.lens) == [64, 65]
    sel = b.select(np.array([False, True]))
    assert list(sel.lens) == [65] and list(b.lens) == [64]
    assert list(held) == [60, 61, 62, 63, 64, 65]  # the old array is left as it was
    path.cq.kernel_produce(path.tx.kernel_consume(4)["addr"])
    assert path.complete() == 4
    sel.release()
    b.release()
    again = umem.take(3, into=sel)
    again.lens[:] = [70, 71, 72]
    picked = again.select(np.array([True, False, True]))
    assert list(picked.lens) == [70, 72] and list(again.lens) == [71]
    picked.release()
    again.release()
    umem.verify()
    assert umem.accounting().pool == FRAMES


def test_a_refused_select_names_the_frame_and_changes_nothing(umem):
    b = umem.take(4)
    other = umem.take(1)
    forged = xsk.Batch(umem, np.array([*b.addrs[:2], other.addrs[0]], np.uint64), np.full(3, 60, np.uint32),
                       b._token, None)
    before = snapshot(umem)
    arrays = forged._addrs.copy(), forged._lens.copy()
    with pytest.raises(xsk.FrameOwnershipError, match=f"split: frame at {int(other.addrs[0]):#x} belongs to another"):
        forged.select(np.array([True, False, True]))
    assert_unchanged(umem, before)
    assert np.array_equal(forged._addrs, arrays[0]) and np.array_equal(forged._lens, arrays[1])
    forged._spent = True
    b.release()
    other.release()
    assert umem.accounting().pool == FRAMES


def test_a_frame_moved_to_another_batch_is_not_usable_through_the_first(umem):
    b = umem.take(4)
    head = b.split(2)
    assert len(head) == 2 and len(b) == 2
    before = snapshot(umem)
    fake = xsk.Batch(umem, head._addrs.copy(), head._lens.copy(), b._token, None)
    with pytest.raises(xsk.FrameOwnershipError, match="another batch"):
        umem.release(fake)
    assert_unchanged(umem, before)
    umem.release(head)
    umem.release(b)
    assert umem.accounting().pool == FRAMES


def test_batch_of_another_umem_is_refused(umem):
    with xsk.Umem(frame_count=8, hugepages="off") as other:
        b = other.take(1)
        with pytest.raises(xsk.FrameOwnershipError, match="another UMEM"):
            umem.release(b)
        other.release(b)


def test_fill_rx_cycle_and_illegal_steps(umem):
    path = RingPath(umem, 16)
    fq, rx = path.fq, path.rx
    b = umem.take(20)
    assert fill(path, b) == 16  # backpressure: the rest stay with the caller
    assert len(b) == 4 and not b.spent
    acc = umem.accounting()
    assert (acc.user, acc.fill) == (4, 16)
    # frames on the fill ring are the kernel's: releasing them is refused and changes nothing
    kernel_addrs = fq.kernel_consume(16)
    before = snapshot(umem)
    with pytest.raises(xsk.FrameOwnershipError, match="fill ring"):
        umem.ledger.release(kernel_addrs[:1], 0)
    assert_unchanged(umem, before)
    # the kernel returns 10 of them on RX, past its headroom
    descs = np.zeros(10, dtype=rx.entries.dtype)
    descs["addr"] = kernel_addrs[:10] + 256
    descs["len"] = 60
    rx.kernel_produce(descs)
    token = umem.ledger.new_token()
    addrs, lens, _ = path.recv(32, token)
    assert len(addrs) == 10 and list(lens) == [60] * 10
    got = path.batch(addrs, lens, token)
    assert all(umem.state_of(int(a)) == "USER" for a in got.addrs)
    assert umem.accounting() == (FRAMES - 20, 14, 6, 0, FRAMES)
    umem.release(got)
    umem.release(b)
    assert umem.accounting() == (FRAMES - 6, 0, 6, 0, FRAMES)


def test_rx_descriptor_naming_a_frame_the_kernel_does_not_hold_is_dropped_and_counted(umem):
    path = RingPath(umem, 8)
    descs = np.zeros(1, dtype=path.rx.entries.dtype)
    descs["addr"] = 0  # frame 0 is in the pool, not on the fill ring
    descs["len"] = 60
    path.rx.kernel_produce(descs)
    addrs, _, _ = path.recv(8, 1)
    assert len(addrs) == 0 and umem.ledger.kernel_errors == 1
    assert umem.accounting().pool == FRAMES


def test_tx_completion_cycle_and_illegal_steps(umem):
    path = RingPath(umem, 8)
    tx, cq = path.tx, path.cq
    b = umem.take(10)
    b.write_template(bytes(60))
    assert send(path, b) == 8 and len(b) == 2
    descs = tx.kernel_consume(8)
    assert list(descs["len"]) == [60] * 8
    before = snapshot(umem)
    with pytest.raises(xsk.FrameOwnershipError, match="TX ring"):
        umem.ledger.release(descs["addr"][:1], 0)
    assert_unchanged(umem, before)
    assert umem.accounting().tx == 8
    cq.kernel_produce(descs["addr"][:5])
    assert path.complete() == 5
    assert umem.accounting() == (FRAMES - 10 + 5, 2, 0, 3, FRAMES)
    # a completion for a frame not in TX is the kernel misbehaving: counted, not obeyed
    cq.kernel_produce(np.array([int(b.addrs[0])], dtype=np.uint64))
    path.complete()
    assert umem.ledger.kernel_errors == 1 and umem.state_of(int(b.addrs[0])) == "USER"
    assert umem.ledger.reclaim(7) == 3  # the socket is gone: its TX frames come back
    umem.release(b)
    assert umem.accounting().pool == FRAMES


def test_tx_bounds(umem):
    path = RingPath(umem, 8)
    b = umem.take(2)
    b.lens[:] = [60, 2049]
    before = snapshot(umem)
    with pytest.raises(xsk.FrameTooLargeError):
        send(path, b)
    assert_unchanged(umem, before)
    assert path.tx.producer[0] == 0
    assert send(path, b, check_bounds=False) == 2  # the kernel will judge (tx_invalid_descs)


def test_write_refuses_oversized_frame(umem):
    b = umem.take(1)
    with pytest.raises(xsk.FrameTooLargeError, match="does not fit"):
        b.write(0, bytes(2049))
    umem.release(b)


def test_fill_patch_gather(umem):
    b = umem.take(5)
    b.write_template(bytes(range(64)))
    b.patch(10, np.arange(5, dtype=np.uint8).reshape(5, 1))
    rows = b.gather()
    assert rows.shape == (5, 64)
    assert list(rows[:, 10]) == [0, 1, 2, 3, 4]
    assert bytes(rows[0, 11:]) == bytes(range(11, 64))
    umem.release(b)


def test_a_dropped_batch_gives_its_frames_back_with_a_warning(umem):
    b = umem.take(5)
    b.split(2).release()  # a spent batch dropped: nothing to say
    with pytest.warns(ResourceWarning, match="a Batch of 3 frames was dropped"):
        del b
    assert umem.accounting().pool == FRAMES


def test_set_offsets_moves_the_data_start_inside_the_same_frames(umem):
    b = umem.take(3)
    frames = b.frame_indices.copy()
    b.set_offsets([0, 100, 2047])
    assert list(b.offsets) == [0, 100, 2047] and list(b.frame_indices) == list(frames)
    for bad in (-1, 2048):
        with pytest.raises(xsk.FrameTooLargeError, match="inside a 2048-byte frame"):
            b.set_offsets(bad)
    with pytest.raises(xsk.FrameTooLargeError, match="before a frame's beginning"):
        b.metadata(4)  # frame 0's data starts at its beginning: no room for metadata
    b.set_offsets(8)
    umem.array[b.addrs[0] - 4 : b.addrs[0]] = [1, 2, 3, 4]
    assert b.metadata(4)[0].tolist() == [1, 2, 3, 4]
    b.release()
    assert umem.accounting().pool == FRAMES


def test_multi_buffer_rx_returns_whole_packets_only(umem):
    path = RingPath(umem, 32)
    fq, rx = path.fq, path.rx
    assert fill(path, umem.take(12)) == 12
    kernel_addrs = fq.kernel_consume(12)
    descs = np.zeros(7, dtype=rx.entries.dtype)
    descs["addr"] = kernel_addrs[:7] + 256
    descs["len"] = 2048 - 256
    descs["options"] = [1, 1, 0, 0, 1, 1, 1]  # packets of 3 and 1 fragments, then 3 of a longer one
    rx.kernel_produce(descs)
    addrs, lens, opts = path.recv(8, 5, with_opts=True)
    assert list(opts) == [1, 1, 0, 0]  # the third packet isn't complete yet
    umem.release(path.batch(addrs, lens, 5))
    addrs, lens, opts = path.recv(2, 6, with_opts=True)
    assert list(opts) == [1, 1]  # more fragments than max: max of them
    umem.release(path.batch(addrs, lens, 6))
    last = np.zeros(1, dtype=rx.entries.dtype)
    last["addr"], last["len"] = kernel_addrs[7] + 256, 100
    rx.kernel_produce(last)
    addrs, lens, opts = path.recv(8, 7, with_opts=True)
    assert list(opts) == [1, 0] and lens[1] == 100
    umem.release(path.batch(addrs, lens, 7))
    assert umem.accounting().fill == 4 and umem.accounting().balanced


def test_multi_buffer_tx_puts_only_whole_packets_on_a_nearly_full_ring(umem):
    path = RingPath(umem, 8)
    b = umem.take(12)
    b.write_template(bytes(60))
    opts = np.array([1, 1, 0] * 4, dtype=np.uint32)  # four packets of three fragments

    def send_sg(batch, opts):
        k = path.send(batch._addrs, batch._lens, batch._token, opts)
        umem.ledger.raise_for(k, batch._addrs, path.c.bad, "send")
        batch._consume(k)
        return k

    assert send_sg(b, opts) == 6  # 8 slots: two whole packets, not two and a part
    assert list(path.tx.kernel_consume(8)["options"]) == [1, 1, 0, 1, 1, 0]
    big = umem.take(10)
    big.write_template(bytes(60))
    assert send_sg(big, np.array([1] * 9 + [0], dtype=np.uint32)) == 8  # one packet longer than the ring
    umem.release(b)
    umem.release(big)


def _check_calls(umem, path):
    """Every C entry point that checks a batch before committing it: name -> call(addrs, lens, token)."""
    led = umem.ledger
    bad = ffi.new("uint32_t *")

    def u64(a):
        return ffi.from_buffer("uint64_t[]", a)

    return {
        "check": lambda a, ln, t: lib.xsk_ledger_check(led.c, u64(a), len(a), t, bad),
        "release": lambda a, ln, t: lib.xsk_ledger_release(led.c, u64(a), len(a), t, bad),
        "retoken": lambda a, ln, t: lib.xsk_ledger_retoken(led.c, u64(a), len(a), t, led.new_token(), bad),
        "fill": lambda a, ln, t: path.fill(a, t),
        "fill-or-pool": lambda a, ln, t: path.fill(a, t, to_pool=True),
        "send": lambda a, ln, t: path.send(a, ln, t),
    }


def test_a_refused_batch_leaves_every_frame_as_it_was(umem):
    """The check marks each frame it passes (that is how a frame named twice is caught); a
    refusal anywhere in the batch must take every mark back, whichever call refused it."""
    path = RingPath(umem, 64)
    b = umem.take(6, 60)
    token = b._token
    good = b._addrs.copy()
    lens = np.full(7, 60, dtype=np.uint32)
    other = umem.take(1)  # a frame of another batch
    other_frame = int(other.addrs[0])
    pool_frame = next(f * 2048 for f in range(FRAMES) if umem.state_of(f * 2048) == "POOL")
    wrong = {
        "DUP": lambda i: good[i - 1] if i else good[1],
        "RANGE": lambda i: umem.size,
        "STATE": lambda i: pool_frame,
        "TOKEN": lambda i: other_frame,
    }
    for name, call in _check_calls(umem, path).items():
        for what, bad_addr in wrong.items():
            for i in (0, 3, 6):  # first, middle, last
                addrs = np.insert(good, i, bad_addr(i)).astype(np.uint64)
                before = snapshot(umem)
                rc = call(addrs, lens, token)
                assert rc == getattr(lib, f"XSK_ERR_{what}"), (name, what, i, rc)
                assert_unchanged(umem, before)
                umem.verify()
    assert path.tx.producer[0] == 0 and path.fq.producer[0] == 0
    umem.release(b)  # still the batch's own, still usable
    umem.release(other)
    assert umem.accounting().pool == FRAMES


def test_a_path_without_rx_has_no_fill_ring_and_releases_to_the_pool(umem):
    path = RingPath(umem, 8, rx=False)
    b = umem.take(4)
    assert path.fill(b._addrs, b._token) == 0  # no fill ring of its own: nothing moves
    assert umem.accounting().user == 4 and path.fq.producer[0] == 0
    other = umem.take(1)
    before = snapshot(umem)
    assert path.fill(np.concatenate([b._addrs, other._addrs]), b._token, to_pool=True) == lib.XSK_ERR_TOKEN
    assert_unchanged(umem, before)  # checked before anything moved
    assert path.fill(b._addrs, b._token, to_pool=True) == 0
    b._consume(4)
    assert umem.accounting() == (FRAMES - 1, 1, 0, 0, FRAMES) and path.fq.producer[0] == 0
    umem.verify()
    umem.release(other)


def test_a_batch_that_only_partly_fits_keeps_the_rest_usable(umem):
    path = RingPath(umem, 4)
    for put in (send, fill):
        b = umem.take(7, 60)
        assert put(path, b) == 4 and len(b) == 3
        umem.verify()  # no frame left marked
        umem.release(b)
    assert umem.accounting() == (FRAMES - 8, 0, 4, 4, FRAMES)


def test_verify_catches_a_frame_left_marked(umem):
    b = umem.take(1)
    umem.ledger._word[b.frame_indices[0]] |= np.uint64(1 << 40)  # XSK_WORD_SEEN outside a call
    with pytest.raises(xsk.XskError, match="no valid state"):
        umem.verify()
    umem.ledger._word[b.frame_indices[0]] &= ~np.uint64(1 << 40)
    umem.verify()
    umem.release(b)


def test_state_readers_ignore_a_mark_another_thread_has_on_a_frame_for_the_moment(umem):
    b = umem.take(1)
    f = int(b.frame_indices[0])
    umem.ledger._word[f] |= np.uint64(1 << 40)  # as while another thread's call checks it
    assert umem.state_of(f * 2048) == "USER" and f in umem.ledger.frames_in("USER")
    umem.ledger._word[f] &= ~np.uint64(1 << 40)
    umem.release(b)


def test_a_send_refused_for_a_bad_length_part_way_leaves_every_frame_as_it_was(umem):
    path = RingPath(umem, 64)
    b = umem.take(5, 60)
    for i in (0, 2, 4):
        b.lens[:] = 60
        b.lens[i] = 0
        before = snapshot(umem)
        with pytest.raises(xsk.FrameTooLargeError):
            send(path, b)
        assert_unchanged(umem, before)
        umem.verify()
    b.lens[:] = 60
    assert send(path, b) == 5


@pytest.mark.parametrize("corrupt", ["duplicate on the pool stack", "pool frame with an owner",
                                     "pool frame off the stack"])
def test_verify_finds_a_broken_pool_and_leaves_the_words_as_they_were(umem, corrupt):
    """verify() marks the pool's frames while it walks the stack: every way out clears them."""
    led = umem.ledger
    b = umem.take(2)
    top = int(led.c.pool_len)
    if corrupt == "duplicate on the pool stack":
        led._pool[top - 1] = led._pool[top - 2]
    elif corrupt == "pool frame with an owner":
        led._word[led._pool[top - 1]] = np.uint64(5)
    else:  # a POOL word for a frame the stack doesn't hold (b's first frame)
        led._word[b.frame_indices[0]] = np.uint64(0)
    words = led._word.copy()
    with pytest.raises(xsk.XskError, match="free pool and the POOL frames disagree"):
        umem.verify()
    assert np.array_equal(words, led._word)


def test_held_by_counts_only_ring_states(umem):
    with pytest.raises(ValueError, match="only FILL and TX"):
        umem.ledger.held_by("USER", 1)


def test_the_transition_table_is_the_state_machine():
    from xsk._ledger import FILL, OWNERS, POOL, STATES, TRANSITIONS, TX, USER, State, reachable

    assert [s.name for s in State] == list(STATES) == ["POOL", "USER", "FILL", "TX"]
    assert [int(s) for s in State] == [lib.XSK_POOL, lib.XSK_USER, lib.XSK_FILL, lib.XSK_TX]
    assert set(OWNERS) == set(State)
    moves = set().union(*TRANSITIONS.values())
    assert all(a != b for a, b in moves)
    assert {(FILL, TX), (FILL, POOL)} <= set(TRANSITIONS["Socket.forward"])
    assert not any(USER in move for move in TRANSITIONS["Socket.forward"])  # never the caller's
    assert (USER, POOL) in reachable("Socket.send")  # sent and completed within one call
    # chains follow the order of the call: recv reaps completions after it refilled the fill ring,
    # so a frame completed in a recv can't also land on the fill ring (TX -> FILL) in that recv
    assert reachable("Socket.recv") == set(TRANSITIONS["Socket.recv"])
    assert reachable("Umem.take") == {(POOL, USER)} and reachable("Batch.select") == frozenset()
    # nothing but the caller's own calls hands frames to the caller, and nothing takes them away
    into_user = {op for op, m in TRANSITIONS.items() if any(b == USER for _, b in m)}
    assert into_user == {"Umem.take", "Socket.recv"}


def test_two_threads_sharing_a_umem_never_corrupt_the_ledger():
    umem = xsk.Umem(frame_count=4096, hugepages="off")
    errors = []

    def churn():
        deadline = time.monotonic() + 0.7
        try:
            while time.monotonic() < deadline:
                umem.release(umem.take(256))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=churn) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert umem.accounting() == (4096, 0, 0, 0, 4096) and umem.ledger.c.pool_len == 4096
    umem.close()
