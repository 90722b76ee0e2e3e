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
    assert f"{old} is deprecated: it moved to {new}" in str(caught[0].message)
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
        "import xsk.testing, xsk.traffic.packet\n"
        "assert ranges is xsk.traffic.ranges and MemorySocket is xsk.testing.MemorySocket\n"
        "print('ok', seqstats.__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "warned: xsk.packet is deprecated: it moved to xsk.traffic.packet" in out.stdout
    assert "ok xsk.traffic.seqstats" in out.stdout


def test_the_redirect_programs_old_name_still_imports_with_a_warning():
    import xsk.program

    with pytest.warns(DeprecationWarning, match="RedirectProgram"):
        old = xsk.program.XdpProgram
    assert old is xsk.program.RedirectProgram
