"""Modules that moved keep importing under their old names, with a DeprecationWarning saying where they went."""

import importlib
import subprocess
import sys
import warnings

import pytest

from xsk._moved import MOVED


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()))
def test_an_old_name_gives_the_new_module_with_a_warning(old, new):
    sys.modules.pop(old, None)
    scope: dict = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(compile(f"import {old} as module", __file__, "exec"), scope)  # an import statement of this file's
    module = scope["module"]
    assert module is importlib.import_module(new)
    assert module.__spec__ is not None
    assert module.__name__ == new and module.__spec__.name == new  # it keeps its own identity
    assert [w.category for w in caught] == [DeprecationWarning]
    home = new.rpartition(".")[0]
    assert f"{old} is deprecated: import its public names from {home} (the module is now the internal {new})" \
        in str(caught[0].message)
    assert caught[0].filename == __file__  # it names the line that imported the old name


def test_old_style_imports_in_a_users_program_keep_working():
    program = (
        "import warnings; warnings.simplefilter('error', DeprecationWarning)\n"
        "try:\n"
        "    from xsk.packet import PacketPlan\n"
        "except DeprecationWarning as w:\n"
        "    print('warned:', w)\n"
        "warnings.simplefilter('default', DeprecationWarning)\n"
        "warnings.simplefilter('ignore', DeprecationWarning)\n"
        "from xsk import ranges, seqstats\n"
        "from xsk.rings import MemorySocket\n"
        "import xsk.testing, xsk.traffic._fields\n"
        "assert ranges is xsk.traffic._ranges and MemorySocket is xsk.testing.MemorySocket\n"
        "print('ok', seqstats.__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "warned: xsk.packet is deprecated: import its public names from xsk.traffic" in out.stdout
    assert "ok xsk.traffic._seqstats" in out.stdout


def test_the_redirect_programs_old_name_still_imports_with_a_warning():
    import xsk._program

    with pytest.warns(DeprecationWarning, match="RedirectProgram"):
        old = xsk._program.XdpProgram
    assert old is xsk._program.RedirectProgram


def test_a_program_written_against_the_public_modules_of_0_2_keeps_working():
    """Before the implementation modules were underscored, users imported from them: those
    imports give the same objects as the public namespaces, with one warning each."""
    program = (
        "import warnings; warnings.simplefilter('ignore', DeprecationWarning)\n"
        "import xsk, xsk.testing, xsk.traffic\n"
        "from xsk.socket import Socket\n"
        "from xsk.umem import Umem\n"
        "from xsk.runner import Runner\n"
        "from xsk.filter import Rule\n"
        "from xsk.testing.xdp import XdpProgram, assert_packet_equal\n"
        "from xsk.testing.veth import VethPair\n"
        "from xsk.traffic.profile import Profile, Stream\n"
        "from xsk.traffic.generator import Generator\n"
        "assert (Socket, Umem, Runner, Rule) == (xsk.Socket, xsk.Umem, xsk.Runner, xsk.Rule)\n"
        "assert (XdpProgram, assert_packet_equal, VethPair) == (xsk.testing.XdpProgram, "
        "xsk.testing.assert_packet_equal, xsk.testing.VethPair)\n"
        "assert (Profile, Stream, Generator) == (xsk.traffic.Profile, xsk.traffic.Stream, xsk.traffic.Generator)\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "ok\n"
