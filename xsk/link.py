"""Interface look-ups through netlink (pyroute2), in the calling thread's namespace."""

from __future__ import annotations

import os
import socket
from typing import Any

from ._netlink import iproute as _netlink
from .errors import NoSuchInterfaceError, XskError


def ifindex(ifname: str, netns: str | None = None) -> int:
    """The interface's index, or NoSuchInterfaceError naming where it was looked for."""
    try:
        return socket.if_nametoindex(ifname)
    except OSError:
        where = f"network namespace {netns!r}" if netns else "this network namespace"
        hint = f"ip -n {netns} link" if netns else "ip link"
        elsewhere = _namespaces_with(ifname, netns)
        found = f"; it exists in network namespace {elsewhere[0]!r}: pass netns={elsewhere[0]!r}" if elsewhere else ""
        raise NoSuchInterfaceError(f"no interface {ifname!r} in {where} (`{hint}` lists them){found}") from None


def _namespaces_with(ifname: str, skip: str | None) -> list[str]:
    """Named network namespaces (``ip netns``) that have an interface called ``ifname`` (error hints)."""
    from . import netns as netns_mod

    try:
        names = sorted(os.listdir(netns_mod.NETNS_RUN_DIR))
    except OSError:
        return []
    found = []
    for name in names:
        if name == skip:
            continue
        try:
            with netns_mod.entered(name):
                socket.if_nametoindex(ifname)
        except (OSError, XskError):
            continue
        found.append(name)
    return found


def queue_counts(index: int) -> tuple[int, int]:
    """(rx, tx) queue counts of the interface with this index."""
    with _netlink() as ipr:
        (link,) = ipr.get_links(index)
        rx = link.get_attr("IFLA_NUM_RX_QUEUES") or 1
        tx = link.get_attr("IFLA_NUM_TX_QUEUES") or 1
    return int(rx), int(tx)


def _link(ifname: str) -> Any:
    """The interface's RTM_NEWLINK message (in the calling thread's namespace), or None."""
    with _netlink() as ipr:
        links = ipr.link_lookup(ifname=ifname)
        return ipr.get_links(links[0])[0] if links else None


def driver_name(ifname: str) -> str:
    """The kernel driver behind an interface (e.g. ``veth``), or "unknown"."""
    link = _link(ifname)
    info = link.get_attr("IFLA_LINKINFO") if link is not None else None
    kind = info.get_attr("IFLA_INFO_KIND") if info is not None else None
    return str(kind) if kind else "unknown"


def mac_address(ifname: str) -> str:
    """The interface's MAC address (in the calling thread's namespace)."""
    link = _link(ifname)
    if link is None:
        raise NoSuchInterfaceError(f"no interface {ifname!r} in this network namespace")
    return str(link.get_attr("IFLA_ADDRESS"))


def ipv4_address(ifname: str) -> str | None:
    """The interface's first IPv4 address, if it has one."""
    with _netlink() as ipr:
        links = ipr.link_lookup(ifname=ifname)
        if not links:
            return None
        for addr in ipr.get_addr(index=links[0], family=socket.AF_INET):
            return str(addr.get_attr("IFA_ADDRESS"))
    return None


def mtu(ifname: str) -> int | None:
    """The interface's MTU (in the calling thread's namespace), None if it is not there."""
    link = _link(ifname)
    value = link.get_attr("IFLA_MTU") if link is not None else None
    return int(value) if value is not None else None


def counters(ifname: str) -> dict[str, int]:
    """The interface's link counters (IFLA_STATS64: rx/tx packets, bytes, dropped, errors...), or {}."""
    link = _link(ifname)
    stats = (link.get_attr("IFLA_STATS64") if link is not None else None) or {}
    return {str(k): int(v) for k, v in dict(stats).items() if isinstance(v, int)}
