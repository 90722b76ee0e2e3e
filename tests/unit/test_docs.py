"""The documentation site builds with Sphinx, warnings as errors, and leaves no public module out;
the README stays a short door into it, with links that resolve."""

import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import xsk

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "reference"


def public_modules() -> set[str]:
    """Every module of xsk a user may import: none under a name starting with "_", nor the CLI's."""
    found = {"xsk"}
    for info in pkgutil.walk_packages(xsk.__path__, "xsk."):
        parts = info.name.split(".")
        if not any(p.startswith("_") for p in parts) and parts[1] != "cli":
            found.add(info.name)
    return found


def _directives() -> tuple[set[str], set[str]]:
    """(modules documented whole, with their members; objects documented one by one) on the reference pages."""
    whole, named = set(), set()
    for page in REFERENCE.glob("*.rst"):
        for kind, target, options in re.findall(r"^\.\. auto(\w+):: (\S+)\n((?:   :.*\n)*)", page.read_text(),
                                                re.MULTILINE):
            if kind == "module" and ":no-members:" not in options:
                whole.add(target)
            elif kind != "module":
                named.add(target)
    return whole, named


def test_every_public_name_has_a_place_in_the_reference():
    """Each public module is documented whole, or each name of its __all__ by itself; a name
    re-exported from a public module (xsk.XskError from xsk.errors) is documented there."""
    whole, named = _directives()
    for module_name in sorted(public_modules()):
        module = importlib.import_module(module_name)
        if module_name in whole:
            continue
        assert hasattr(module, "__all__"), f"{module_name} is neither documented whole nor has an __all__"
        for name in module.__all__:
            home = getattr(getattr(module, name), "__module__", None)
            assert f"{module_name}.{name}" in named or home in whole, f"{module_name}.{name} is on no page"
    toctree = (REFERENCE / "index.rst").read_text()
    assert all(f"   {page.stem}\n" in toctree for page in REFERENCE.glob("*.rst") if page.stem != "index")


def test_the_site_builds_with_warnings_as_errors(tmp_path):
    out = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                          str(ROOT / "docs"), str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    pages = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.html")}
    guides = {f"{p.stem}.html" for p in (ROOT / "docs").glob("*.md")}
    assert guides >= {"index.html", "start.html", "engine.html", "generator.html", "harness.html", "testing-xdp.html",
                      "protocols.html", "tutorial.html", "performance.html", "tests.html", "developing.html",
                      "security.html"}
    assert guides | {"cli.html", "reference/umem.html", "reference/traffic.html", "reference/testing.html"} <= pages
    umem = (tmp_path / "reference" / "umem.html").read_text()
    assert "exactly one owner at all times" in umem  # the docstrings are there
    ledger = (tmp_path / "reference" / "ledger.html").read_text()
    assert "Socket.forward   FILL -&gt; TX, FILL -&gt; POOL, POOL -&gt; FILL" in ledger  # the table, rendered
    home = (tmp_path / "index.html").read_text()
    for page in (guides - {"index.html"}) | {"cli.html"}:  # a landing page whose toctree reaches every page
        assert f'href="{page}"' in home, page
    assert "Two commands" not in home  # not the README any more
    start = (tmp_path / "start.html").read_text()
    assert "XSK_DEBIAN13_FRESH=1" in start and "OK: every frame arrived" in start  # the README's section, included
    cli = (tmp_path / "cli.html").read_text()
    import argparse

    from xsk.cli import build_parser
    (subcommands,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    for command in subcommands.choices:  # made from the parsers: every subcommand and its options
        assert f"xsk {command} [-h]" in cli, command
    assert "--dst-mac" in cli and "--profile" in cli


README = ROOT / "README.md"


def test_the_readme_is_short():
    assert len(README.read_text().splitlines()) < 200


def test_the_readmes_links_resolve():
    """Relative links, as GitHub follows them: each names a file of the checkout."""
    links = re.findall(r"\]\(([^)\s]+)\)", README.read_text())
    relative = [link for link in links if "://" not in link and not link.startswith("#")]
    assert relative
    assert [link for link in relative if not (ROOT / link.split("#")[0]).is_file()] == []
