"""RoutedPair: three throwaway namespaces, ``a —— router —— b``, for programs that forward.

::

    a.netns                 router.netns                      b.netns
    a (198.51.100.1/24) ——— ra (198.51.100.2)   rb (203.0.113.2) ——— b (203.0.113.1/24)

``a`` and ``b`` route everything through the router (their default routes point at ``ra`` and
``rb``). The router's kernel forwards between its two interfaces only when ``forwarding=True``;
with the default False, a packet from ``a`` reaches ``b`` only if an XDP program on the router
forwards it, which is what a forwarding program's test wants to show.

Every interface starts with a two-instruction XDP_PASS program (see :mod:`xsk.testing._attach`):
veth takes frames that XDP programs transmit or redirect into it only into an end that has an
XDP program, so a forwarder's redirects out of any interface are received. A program you
attach to an interface takes that one's place. Names are unique per layout; leaving
the ``with`` block (or ``destroy()``) detaches what tests attached and removes all three
namespaces, also when the body raised.
"""

from __future__ import annotations

import secrets

from .. import netns
from .._netlink import iproute
from .._privileges import CAP_NET_ADMIN, CAP_SYS_ADMIN, require
from ..errors import ConfigError, PrivilegeError
from ._end import End, link_layout, link_peers
from ._veth import NS_PREFIX, configure, make_namespace, make_veth, remove_namespaces, sysctl

A_NET, B_NET = "198.51.100", "203.0.113"


class RoutedPair:
    """Ends ``a`` and ``b`` in their namespaces, joined through a router namespace whose
    interfaces are ``ra`` (towards a) and ``rb`` (towards b). Use as a context manager."""

    def __init__(self, *, forwarding: bool = False, name: str | None = None, mtu: int | None = None) -> None:
        token = name or secrets.token_hex(4)
        if len(token) > 11:
            raise ConfigError(f"name {token!r} is too long: interface names allow 15 characters")
        self.name = token
        self.forwarding = forwarding
        self.mtu = mtu
        ns_a, ns_r, ns_b = (f"{NS_PREFIX}{token}-{x}" for x in ("a", "r", "b"))
        self.router_netns = ns_r
        self.a = End(ns_a, f"xr{token}a", "02:00:00:00:01:0a", f"{A_NET}.1", 24)
        self.ra = End(ns_r, f"xr{token}ra", "02:00:00:00:01:1a", f"{A_NET}.2", 24)
        self.rb = End(ns_r, f"xr{token}rb", "02:00:00:00:01:1b", f"{B_NET}.2", 24)
        self.b = End(ns_b, f"xr{token}b", "02:00:00:00:01:0b", f"{B_NET}.1", 24)
        link_peers(self.a, self.ra)
        link_peers(self.rb, self.b)
        link_layout(*self.ends)
        self._made: list[str] = []

    @property
    def ends(self) -> tuple[End, End, End, End]:
        return self.a, self.ra, self.rb, self.b

    def __enter__(self) -> RoutedPair:
        self.create()
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    def create(self) -> None:
        require(CAP_NET_ADMIN, CAP_SYS_ADMIN, purpose="making namespaces and veth pairs")
        try:
            for ns in (self.a.netns, self.router_netns, self.b.netns):
                make_namespace(ns, False, self._made)
            make_veth(self.a, self.ra)
            make_veth(self.rb, self.b)
            for end in self.ends:
                configure(end, mtu=self.mtu)
            with netns.entered(self.router_netns):
                sysctl("net/ipv4/ip_forward", "1" if self.forwarding else "0")
            for end, gateway in ((self.a, self.ra.ip), (self.b, self.rb.ip)):
                with netns.entered(end.netns), iproute() as ipr:
                    ipr.route("add", dst="default", gateway=gateway)
            for end in self.ends:
                end.accept_xdp_frames()
        except PermissionError as exc:
            self.destroy()
            raise PrivilegeError(f"making a routed pair: {exc}", errno=exc.errno) from None
        except BaseException:
            self.destroy()
            raise

    def destroy(self) -> None:
        """Detach what tests attached, then remove all three namespaces."""
        remove_namespaces(self._made, self.ends)

    def __repr__(self) -> str:
        return (f"<RoutedPair {self.a.netns}/{self.a.ifname} <-> router {self.router_netns} "
                f"<-> {self.b.netns}/{self.b.ifname}>")
