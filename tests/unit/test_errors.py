"""The error families: every xsk error is a misuse (UsageError) or the host's (HostError), one
errno table picks the class, and the command line names its own options for library arguments."""

import errno
import inspect
import pickle

import pytest

import xsk
from xsk import errors
from xsk._binding import check

ALL = [cls for _, cls in inspect.getmembers(errors, inspect.isclass)
       if issubclass(cls, errors.XskError) and cls is not errors.XskError]


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_every_error_is_in_exactly_one_family(cls):
    families = [f for f in (errors.UsageError, errors.HostError) if issubclass(cls, f)]
    if cls is errors.IntegrityError:  # a broken invariant: neither the caller's nor the host's doing
        assert families == []
    elif cls in (errors.UsageError, errors.HostError):
        assert families == [cls]
    else:
        assert len(families) == 1, (cls, families)
    assert getattr(xsk, cls.__name__) is cls  # every one is public from the package


@pytest.mark.parametrize(("number", "cls"), [
    (errno.EPERM, xsk.PrivilegeError), (errno.EACCES, xsk.KernelError), (errno.EBUSY, xsk.ResourceBusyError),
    (errno.EOPNOTSUPP, xsk.UnsupportedError), (errno.ENODEV, xsk.NoSuchInterfaceError),
    (errno.ENOMEM, xsk.KernelError), (errno.ENETDOWN, xsk.KernelError),
])
def test_check_picks_the_class_by_errno(number, cls):
    with pytest.raises(cls) as info:
        check(-number, "doing a thing", "try another")
    exc = info.value
    assert type(exc) is cls and exc.errno == number and isinstance(exc, OSError)
    assert str(exc) == f"doing a thing: {errno.errorcode[number] and __import__('os').strerror(number)} (try another)"
    assert check(5, "fine") == 5


def test_kernel_error_still_takes_its_old_arguments():
    old = xsk.KernelError(errno.ENOMEM, "registering the UMEM", "ulimit -l")
    assert (str(old), old.errno) == ("registering the UMEM: Cannot allocate memory (ulimit -l)", errno.ENOMEM)
    new = xsk.KernelError("a message", errno=errno.EIO)
    assert (str(new), new.errno, new.strerror) == ("a message", errno.EIO, "Input/output error")


def test_errors_survive_pickling_as_they_cross_processes():
    host = errors.error_for(errno.EBUSY, "binding", "another socket holds it")
    host.accepted = 3
    back = pickle.loads(pickle.dumps(host))
    assert type(back) is xsk.ResourceBusyError and str(back) == str(host)
    assert back.errno == errno.EBUSY and back.accepted == 3
    config = xsk.ConfigError("must be a power of two, got 6", argument="ring_size")
    back = pickle.loads(pickle.dumps(config))
    assert (back.reason, back.argument) == (config.reason, "ring_size")
    assert str(back) == "ring_size: must be a power of two, got 6"


def _cli(capsys, *argv: str) -> tuple[int, str]:
    """``xsk ARGV...`` run through the command line's entry point: its exit status and stderr."""
    from xsk.cli import main

    code = main(list(argv))
    return code, capsys.readouterr().err.strip()


def test_the_command_line_names_its_options_for_the_library_arguments(capsys):
    """The library names its parameters (a ConfigError's ``argument``, or ``name=value`` in the
    message); xsk says the option that sets each, and leaves what the user typed as it is. Each
    of these fails before anything is opened."""
    assert _cli(capsys, "gen", "lo", "--count", "-1") == (2, "xsk gen: error: --count: must be positive, got -1")
    assert _cli(capsys, "gen", "lo", "--seq-start", "-1") == (
        2, "xsk gen: error: --seq-start -1: sequence numbers are 0..2^56-1")
    assert _cli(capsys, "gen", "lo", "--template", "Ether()/Dot1Q(vlan=5)/IP()/UDP()", "--pcap", "x.pcap") == (
        2, "xsk gen: error: --template and --pcap can't be combined")
    code, err = _cli(capsys, "gen", "lo", "--template", "Ether()/Dot1Q(vlan=5)/IP(dst=open('x'))")
    assert code == 2 and "Ether()/Dot1Q(vlan=5)/IP(dst=open('x'))" in err and "--vlan" not in err


def test_the_command_line_exits_2_for_what_was_typed(capsys):
    """A name that names nothing on this host (found by a look-up, not said by the kernel
    mid-run) is bad input, like a bad option value. (What happened during a run exits 1:
    tests/kernel/test_tx_metadata.py's refusal.)"""
    code, err = _cli(capsys, "gen", "xsk-none0")
    assert code == 2
    assert err == "xsk gen: error: no interface 'xsk-none0' in this network namespace (`ip link` lists them)"


def test_library_messages_name_no_command_line_option():
    """The library speaks of its own parameters; only the command line knows its flags: no string
    of the library outside its docstrings names one of xsk's options (an argv element such as
    "--frames", which a test helper passes to the command line, is not a message)."""
    import argparse
    import ast
    import re
    from pathlib import Path

    from xsk.cli import build_parser

    parser = build_parser()
    options = {o for a in parser._actions for o in a.option_strings if o.startswith("--")}
    for sub in (a for a in parser._actions if isinstance(a, argparse._SubParsersAction)):
        for p in sub.choices.values():
            options |= {o for a in p._actions for o in a.option_strings if o.startswith("--")}
    package = Path(xsk.__file__).parent
    offenders = []
    for path in package.rglob("*.py"):
        if "cli" in path.parts:
            continue
        tree = ast.parse(path.read_text())
        docs = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
                if re.fullmatch(r"--[a-z][a-z0-9-]*", node.value):
                    continue  # an argv element
                named = set(re.findall(r"(?:^|[\s(`'\"])(--[a-z][a-z0-9-]*)", node.value)) & options
                if named:
                    offenders.append(f"{path.relative_to(package)}:{node.lineno}: {sorted(named)}")
    assert offenders == []
