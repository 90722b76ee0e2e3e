"""Up-front capability checks, so a missing privilege is reported before anything changes."""

from __future__ import annotations

from .errors import PrivilegeError

CAP_NET_ADMIN = 12
CAP_NET_RAW = 13
CAP_IPC_LOCK = 14
CAP_SYS_ADMIN = 21
CAP_BPF = 39

_NAMES = {
    CAP_NET_ADMIN: "CAP_NET_ADMIN",
    CAP_NET_RAW: "CAP_NET_RAW",
    CAP_IPC_LOCK: "CAP_IPC_LOCK",
    CAP_SYS_ADMIN: "CAP_SYS_ADMIN",
    CAP_BPF: "CAP_BPF",
}


def effective() -> int:
    """The calling process's effective capability set, as a bit mask."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return 0


def has(cap: int) -> bool:
    return bool(effective() >> cap & 1)


def require(*caps: int, alternatives: tuple[int, ...] = (), purpose: str, otherwise: str = "") -> None:
    """Raise PrivilegeError naming each missing capability (``alternatives``: any one will do);
    ``otherwise``: a way around it without the capability, added to the message."""
    eff = effective()
    missing = [_NAMES[c] for c in caps if not eff >> c & 1]
    if alternatives and not any(eff >> c & 1 for c in alternatives):
        missing.append(" or ".join(_NAMES[c] for c in alternatives))
    if missing:
        raise PrivilegeError(
            f"{purpose} needs {', '.join(missing)}: run as root (sudo) or grant the capability "
            f"(e.g. `setcap cap_net_raw,cap_net_admin,cap_bpf+ep` on the interpreter){otherwise}"
        )


def require_socket() -> None:
    require(CAP_NET_RAW, purpose="an AF_XDP socket")


def require_program() -> None:
    require(CAP_NET_ADMIN, alternatives=(CAP_BPF, CAP_SYS_ADMIN), purpose="attaching an XDP program",
            otherwise="; or let root attach and pin it once (xsk.pinned.attach(ifname, DIR)) and receive "
                      "through the pin (Socket(program=xsk.PinnedProgram(DIR))) with CAP_NET_RAW only")


def require_bpf_load() -> None:
    """Loading an XDP program (BPF_PROG_LOAD of a networking type, and its test runs)."""
    require(alternatives=(CAP_BPF, CAP_SYS_ADMIN), purpose="loading a BPF program")
    require(alternatives=(CAP_NET_ADMIN, CAP_SYS_ADMIN), purpose="loading an XDP program")
