"""xsk._sockdiag reads the kernel's sock_diag records through cffi's declarations of the uapi
structs: its request and its parse of a reply agree with the kernel's layout, written out here
byte by byte (this kernel may lack xsk_diag, so the netlink socket is a stand-in)."""

from __future__ import annotations

import struct

from xsk import _sockdiag
from xsk._binding import ffi, lib

NLMSGHDR = struct.Struct("=IHHII")
XDP_DIAG_REQ = struct.Struct("=BBHII8x")  # family, protocol, pad, ino, show, cookie[2]
XDP_DIAG_MSG = struct.Struct("=BBHI8x")  # family, type, pad, ino, cookie[2]
NLATTR = struct.Struct("=HH")
XDP_DIAG_INFO = struct.Struct("=II")  # ifindex, queue_id


def test_the_declared_structs_are_the_kernels_sizes():
    assert [ffi.sizeof(f"struct {name}") for name in ("nlmsghdr", "xdp_diag_req", "xdp_diag_msg", "nlattr",
                                                       "xdp_diag_info")] == [16, 20, 16, 4, 8]
    assert (lib.AF_XDP, lib.SOCK_DIAG_BY_FAMILY, lib.XDP_SHOW_INFO, lib.XDP_DIAG_INFO) == (44, 20, 1, 1)


def test_the_request_asks_for_every_af_xdp_socket_with_its_queue():
    request = _sockdiag._request()
    length, kind, flags, seq, _ = NLMSGHDR.unpack_from(request)
    assert (length, kind, flags, seq) == (len(request), 20, 0x301, 1)
    assert XDP_DIAG_REQ.unpack_from(request, NLMSGHDR.size) == (44, 0, 0, 0, 1)


def _message(inode: int, ifindex: int, queue: int) -> bytes:
    attr = NLATTR.pack(NLATTR.size + XDP_DIAG_INFO.size, lib.XDP_DIAG_INFO) + XDP_DIAG_INFO.pack(ifindex, queue)
    uid = NLATTR.pack(NLATTR.size + 4, 2) + struct.pack("=I", 0)  # XDP_DIAG_UID first: skipped
    body = XDP_DIAG_MSG.pack(44, 3, 0, inode) + uid + attr
    return NLMSGHDR.pack(NLMSGHDR.size + len(body), 20, 2, 1, 0) + body


class _Netlink:
    def __init__(self, replies: list[bytes]) -> None:
        self.replies = replies
        self.sent: list[bytes] = []

    def __enter__(self) -> _Netlink:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def settimeout(self, seconds: float) -> None:
        pass

    def send(self, data: bytes) -> None:
        self.sent.append(data)

    def recv(self, size: int) -> bytes:
        return self.replies.pop(0)


def test_the_sockets_on_the_queue_are_found_in_a_multipart_reply(monkeypatch):
    done = NLMSGHDR.pack(NLMSGHDR.size + 4, 3, 2, 1, 0) + bytes(4)  # NLMSG_DONE
    replies = [_message(101, 7, 0) + _message(102, 7, 1) + _message(103, 8, 0), _message(104, 7, 0) + done]
    monkeypatch.setattr(_sockdiag.socket, "socket", lambda *args: _Netlink(replies))
    assert _sockdiag.socket_inodes(7, 0) == [101, 104]


def test_a_truncated_reply_ends_the_search(monkeypatch):
    whole = _message(101, 7, 0)
    monkeypatch.setattr(_sockdiag.socket, "socket", lambda *args: _Netlink([whole + whole[:20]]))
    assert _sockdiag.socket_inodes(7, 0) == [101]
