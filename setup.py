"""Build hooks that pyproject.toml can't express: the cffi extension and the BPF objects."""

import importlib.util
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def _bpf_builder():
    spec = importlib.util.spec_from_file_location("bpf_build", ROOT / "bpf" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build


class BuildPyWithBpf(build_py):
    """Compile bpf/*.c with clang and ship the objects as xsk/_bpf/*.o package data."""

    def run(self):
        super().run()
        base = ROOT if getattr(self, "editable_mode", False) else Path(self.build_lib)
        _bpf_builder()(base / "xsk" / "_bpf")


setup(
    cffi_modules=["xsk/_ffi/build.py:ffibuilder"],
    cmdclass={"build_py": BuildPyWithBpf},
)
