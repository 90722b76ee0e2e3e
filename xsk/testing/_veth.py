"""VethPair: two throwaway network namespaces joined by a veth pair.

The namespaces are made by iproute2's ``ip netns add`` (which never forks this process);
everything else goes through netlink (pyroute2) with a per-thread namespace switch (setns).
Names are unique per pair, so parallel runs never collide, and ``__exit__`` removes both
namespaces (and with them the veth ends and any XDP program on them) even when the body raised.

IPv6 is off unless asked for: a fresh namespace would otherwise send DAD and MLD frames
that land on AF_XDP sockets and disturb exact counts.
"""

from __future__ import annotations

import contextlib
import ipaddress
import secrets
import subprocess

from pyroute2 import netns as pyroute2_netns

from .. import link, netns
from .._netlink import call_outside_loop, iproute
from .._privileges import CAP_NET_ADMIN, CAP_SYS_ADMIN, require
from ..errors import ConfigError, PrivilegeError
from ._end import End, link_layout, link_peers

NS_PREFIX = "xskt-"
_made_here: set[str] = set()  # every namespace a VethPair in this process created


SIOCETHTOOL = 0x8946
ETHTOOL_STXCSUM = 0x17


def _set_tx_checksum_offload(ifname: str, on: bool) -> None:
    """ETHTOOL_STXCSUM through the ethtool ioctl, in the calling thread's namespace."""
    import ctypes
    import fcntl
    import socket
    import struct

    value = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_STXCSUM, int(on)))
    request = struct.pack("16sP", ifname.encode(), ctypes.addressof(value))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s.fileno(), SIOCETHTOOL, request)


def sysctl(path: str, value: str) -> None:
    """Write /proc/sys/``path`` (in the calling thread's namespace)."""
    with open(f"/proc/sys/{path}", "w") as f:
        f.write(value)


def _ip_netns_add(name: str) -> None:
    """``ip netns add name``: iproute2 creates and pins the namespace in a process of its own.
    pyroute2's ``netns.create`` forks this (often threaded) process to unshare, which Python 3.12+
    warns about (DeprecationWarning: fork() in a multi-threaded process may deadlock the child)."""
    try:
        done = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise ConfigError("`ip` (iproute2) is not installed: apt-get install iproute2") from None
    if done.returncode != 0:
        raise ConfigError(f"ip netns add {name}: {done.stderr.strip() or f'exit {done.returncode}'}")


def make_namespace(name: str, ipv6: bool, made: list[str]) -> None:
    """Create network namespace ``name`` (recorded in ``made``), IPv6 off unless asked for."""
    if netns.exists(name):
        raise ConfigError(f"network namespace {name!r} already exists")
    _ip_netns_add(name)
    made.append(name)
    _made_here.add(name)
    with netns.entered(name):
        for conf in ("all", "default"):
            sysctl(f"net/ipv6/conf/{conf}/disable_ipv6", "0" if ipv6 else "1")


def make_veth(one: End, other: End, queues: int = 1) -> None:
    """A veth link between two ends, each moved into its namespace."""
    with iproute() as ipr:
        ipr.link("add", ifname=one.ifname, kind="veth",
                 peer={"ifname": other.ifname, "num_rx_queues": queues, "num_tx_queues": queues},
                 num_rx_queues=queues, num_tx_queues=queues)
        for end in (one, other):
            (index,) = ipr.link_lookup(ifname=end.ifname)
            ipr.link("set", index=index, net_ns_fd=end.netns)


def configure(end: End, *, mtu: int | None = None, tx_checksum_offload: bool = False) -> None:
    """MAC, MTU, checksum offload and address of an end, then its link and loopback up."""
    with netns.entered(end.netns), iproute() as ipr:
        (index,) = ipr.link_lookup(ifname=end.ifname)
        settings: dict[str, str | int] = {"address": end.mac}
        if mtu:
            settings["mtu"] = mtu
        ipr.link("set", index=index, **settings)
        if not tx_checksum_offload:
            _set_tx_checksum_offload(end.ifname, False)
        if end.ip:
            ipr.addr("add", index=index, address=end.ip, prefixlen=end.prefixlen)
        (lo,) = ipr.link_lookup(ifname="lo")
        ipr.link("set", index=lo, state="up")
        ipr.link("set", index=index, state="up")


def remove_namespaces(made: list[str], ends: tuple[End, ...]) -> None:
    """Close the ends' tools (detaching programs), then remove the namespaces in ``made`` and
    any end's interface left in the root namespace; tolerant of what is already gone."""
    for end in ends:
        with contextlib.suppress(Exception):
            end.close_tools()
    for ns in reversed(made):
        with contextlib.suppress(FileNotFoundError, OSError):
            call_outside_loop(pyroute2_netns.remove, ns)
    made.clear()
    with contextlib.suppress(Exception), iproute() as ipr:
        for end in ends:
            for index in ipr.link_lookup(ifname=end.ifname):
                ipr.link("del", index=index)


class VethPair:
    """Namespaces ``a.netns`` and ``b.netns`` joined by veth ends ``a.ifname`` and ``b.ifname``.

    ``queues``: RX and TX queue count of each end. MACs and IPv4 addresses (with prefix
    length) are configurable; links are up on entry. Use as a context manager.

    TX checksum offload is off unless ``tx_checksum_offload=True``: with it on, the kernel
    leaves UDP/TCP checksums unfinished on veth (the peer's stack knows not to check), but
    an XDP or AF_XDP program sees, and would forward, the unfinished checksum.
    """

    def __init__(
        self,
        *,
        queues: int = 1,
        mac_a: str = "02:00:00:00:00:0a",
        mac_b: str = "02:00:00:00:00:0b",
        ip_a: str | None = "192.0.2.1/24",
        ip_b: str | None = "192.0.2.2/24",
        ipv6: bool = False,
        mtu: int | None = None,
        tx_checksum_offload: bool = False,
        name: str | None = None,
        netns_names: tuple[str, str] | None = None,
        ifnames: tuple[str, str] | None = None,
    ) -> None:
        if queues < 1 or queues > 64:
            raise ConfigError(f"queues must be between 1 and 64, got {queues}")
        token = name or secrets.token_hex(4)
        if len(token) > 12:
            raise ConfigError(f"name {token!r} is too long: interface names allow 15 characters")
        self.name = token
        self.queues = queues
        self.ipv6 = ipv6
        self.mtu = mtu
        self.tx_checksum_offload = tx_checksum_offload
        ns_a, ns_b = netns_names or (f"{NS_PREFIX}{token}-a", f"{NS_PREFIX}{token}-b")
        if_a, if_b = ifnames or (f"xv{token}a", f"xv{token}b")
        for ifname in (if_a, if_b):
            if not 0 < len(ifname) <= 15 or "/" in ifname or " " in ifname:
                raise ConfigError(f"interface name {ifname!r} must be 1 to 15 characters, no '/' or spaces")
        self.a = self._end(ns_a, if_a, mac_a, ip_a)
        self.b = self._end(ns_b, if_b, mac_b, ip_b)
        link_peers(self.a, self.b)
        link_layout(self.a, self.b)
        self._made: list[str] = []
        self._open = False

    @staticmethod
    def _end(ns: str, ifname: str, mac: str, ip: str | None) -> End:
        if ip is None:
            return End(ns, ifname, mac, None, 0)
        iface = ipaddress.ip_interface(ip)
        prefix = iface.network.prefixlen if "/" in ip else 24
        return End(ns, ifname, mac, str(iface.ip), prefix)

    # --- lifetime --------------------------------------------------------------------------
    def __enter__(self) -> VethPair:
        self.create()
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    def create(self) -> None:
        require(CAP_NET_ADMIN, CAP_SYS_ADMIN, purpose="making namespaces and veth pairs")
        try:
            for end in (self.a, self.b):
                make_namespace(end.netns, self.ipv6, self._made)
            make_veth(self.a, self.b, self.queues)
            for end in (self.a, self.b):
                configure(end, mtu=self.mtu, tx_checksum_offload=self.tx_checksum_offload)
            self._open = True
        except PermissionError as exc:
            self.destroy()
            raise PrivilegeError(f"making a veth pair: {exc}", errno=exc.errno) from None
        except BaseException:
            self.destroy()
            raise

    def counters(self) -> dict[str, dict[str, int]]:
        """The kernel's link counters of each end (``{"a": {...}, "b": {...}}``): packets, bytes, drops."""
        out = {}
        for key, end in (("a", self.a), ("b", self.b)):
            with netns.entered(end.netns):
                stats = link.counters(end.ifname)
                out[key] = {name: int(stats.get(name, 0)) for name in (
                    "rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_dropped", "tx_dropped")}
        return out

    def destroy(self) -> None:
        """Detach what tests attached, close the ends' senders and captures, then remove both
        namespaces (and so both veth ends); tolerant of what is already gone."""
        remove_namespaces(self._made, (self.a, self.b))
        self._open = False

    def __repr__(self) -> str:
        return f"<VethPair {self.a.netns}/{self.a.ifname} <-> {self.b.netns}/{self.b.ifname}>"


def leftover_namespaces() -> list[str]:
    """Namespaces made by VethPair in this process that still exist (for leak checks in test suites).

    Only this process's: other test runs on the machine make and remove their own meanwhile.
    """
    return sorted(n for n in _made_here if netns.exists(n))
