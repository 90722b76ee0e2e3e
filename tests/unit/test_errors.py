"""The error families: every xsk error is a misuse (UsageError) or the host's (HostError), one
errno table picks the class, and the command line names its own options for library arguments."""

import errno
import inspect
import pickle

import pytest

import xsk
from xsk import errors
from xsk._binding import check
from xsk.cli.common import describe, flag_for

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


def test_a_library_argument_is_named_by_its_option_on_the_command_line():
    exc = xsk.ConfigError("must be a power of two, got 6", argument="ring_size")
    assert str(exc) == "ring_size: must be a power of two, got 6"
    assert describe(exc) == "--ring-size: must be a power of two, got 6"
    assert flag_for("frame_count") == "--frames" and flag_for("src_ip") == "--src-ip"
    recv_max = xsk.ConfigError("must be at least 1, got 0", argument="max")  # recv(max=): the CLI's --batch
    assert describe(recv_max) == "--batch: must be at least 1, got 0"
    no_option = xsk.ConfigError("must be an xsk.CustomProgram, got str", argument="program")
    assert flag_for("program") is None and describe(no_option) == "program: must be an xsk.CustomProgram, got str"
    plain = xsk.ConfigError("a socket needs rx=True, tx=True or both")
    assert plain.argument is None and describe(plain) == str(plain)


def test_the_command_line_exits_2_for_what_was_typed_and_1_for_what_happened():
    from xsk.cli.common import bad_input

    assert bad_input(xsk.ConfigError("must be a power of two", argument="ring_size"))
    assert bad_input(xsk.NoSuchInterfaceError("no interface 'x' in this network namespace"))
    assert not bad_input(xsk.NoSuchInterfaceError.from_errno(errno.ENODEV, "sending"))  # the kernel said so mid-run
    assert not bad_input(xsk.FrameOwnershipError("send: frame at 0x0 is not yours"))  # a bug, not bad input
    assert not bad_input(xsk.KernelError("kicking TX: Network is down", errno=errno.ENETDOWN))


def test_library_messages_name_no_command_line_option():
    """The library speaks of its own parameters; only the command line knows its flags."""
    import re
    from pathlib import Path

    package = Path(xsk.__file__).parent
    offenders = []
    for path in package.rglob("*.py"):
        if "cli" in path.parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"Error\(.*[\"' ]--[a-z]", line):
                offenders.append(f"{path.relative_to(package)}:{number}: {line.strip()}")
    assert offenders == []
