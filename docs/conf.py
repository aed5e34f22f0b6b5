"""
Sphinx configuration of Nova's documentation site: the Markdown pages of
docs/ (read by MyST), built by `make docs` into docs/_build/html.

The flags reference (flag-reference.md) includes _generated/flags.md, which
is written here, at each build, from the flag definitions by
nova.config.referenceMarkdown().
"""

import os
import sys

DOCS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(DOCS))

project = "Nova on Twisted"
copyright = "Nova on Twisted's authors"
author = "Nova on Twisted's authors"

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_generated", "newsfragments", "Thumbs.db", ".DS_Store"]

# Headings down to ### get anchors that [text](page.md#anchor) links can use.
myst_heading_anchors = 3

html_theme = "alabaster"
html_title = project
html_static_path = []


def writeFlagsReference(app):
    """
    Write _generated/flags.md from the flag definitions, only when it
    changed, so that Sphinx rebuilds the reference only then.
    """
    from nova.config import referenceMarkdown

    text = referenceMarkdown()
    directory = os.path.join(DOCS, "_generated")
    path = os.path.join(directory, "flags.md")
    os.makedirs(directory, exist_ok=True)
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def setup(app):
    app.connect("builder-inited", writeFlagsReference)
    return {"parallel_read_safe": True}
