"""Sphinx configuration: `make docs` builds the site into build/docs, warnings as errors.

The pages are the guides (docs/*.md), the command-line reference made from xsk's own argparse
parsers by sphinx-argparse (`xsk.cli.build_parser`), and one reference page per public module,
made from the docstrings by autodoc (which imports xsk, so the extension must be built: `make`
does it). The README is not part of the site: it links into these pages.
Nothing is fetched while building or reading: no intersphinx, and the theme's assets are local.
"""

from __future__ import annotations

project = "xsk"
author = "the xsk maintainers"
extensions = ["sphinx.ext.autodoc", "myst_parser", "sphinxarg.ext"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = "xsk"
myst_heading_anchors = 3
autodoc_default_options = {"members": True, "member-order": "bysource", "show-inheritance": True}
highlight_language = "text"  # docstrings' literal blocks are tables and layouts; code examples say their language
autodoc_typehints = "signature"
nitpicky = False
