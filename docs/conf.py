"""Sphinx configuration: the guides (Markdown, through myst-parser), the command reference
generated from the Click commands (sphinx-click), the API reference generated from the
package's numpydoc docstrings (autodoc, autosummary, numpydoc), and the man page imgconv(1).

Build (README, "Documentation"):  sphinx-build -M html docs build -W && sphinx-build -M man docs build -W
"""

import functools
import re
from pathlib import Path

from jinja2 import FileSystemLoader, Template
from jinja2.sandbox import SandboxedEnvironment
from numpydoc import docscrape, docscrape_sphinx, numpydoc
from sphinx.builders import Builder
from sphinx.jinja2glue import BuiltinTemplateLoader

import imgconv

project = "imgconv"
author = "the imgconv developers"
copyright = "the imgconv developers"
release = version = imgconv.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx_click",
]  # and numpydoc, set up in setup() below

# "--radius" stays two hyphens, as typed, not an en dash.
smartquotes = False

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"

# Headings get GitHub's anchors, so that links such as guides/batch.md#scaling-with---jobs
# work on GitHub and here alike.
myst_heading_anchors = 4
myst_enable_extensions = ["deflist"]

# `name` in docstrings is a Python reference, as in NumPy and SciPy.
default_role = "py:obj"
# The API reference lists a class's members itself; numpydoc's own tables would repeat them.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# A method without a docstring of its own (an Executor's submit) shows none rather than the
# standard library's, written in another markup.
autodoc_inherit_docstrings = False
autodoc_member_order = "bysource"
# Signatures as NumPy and SciPy show them, names and defaults: the numpydoc Parameters say
# each type in words, where annotations would spell out NumPy's ArrayLike union in full.
autodoc_typehints = "none"
# autosummary tables only: no stub files are written into the source folder.
autosummary_generate = False

html_theme = "furo"
html_title = f"imgconv {release}"

# The command reference is also the man page, `man -l build/man/imgconv.1`.
man_pages = [("reference/cli", "imgconv", "image convolution from the command line", [author], 1)]
man_show_urls = False


# The commands' help is plain text written for a terminal ("|gx|", "*.jpg"), which
# sphinx-click hands to reStructuredText: escape its markup, so that the reference shows
# the help as --help does. Lines sphinx-click writes itself (directives, ":default:"
# fields) are left as they are; "| " starts a line of a \b block, kept as written.
MARKUP = re.compile(r"([\\*`|_])")


def escape(text: str) -> str:
    block = "| " if text.startswith("| ") else ""
    return block + MARKUP.sub(r"\\\1", text[len(block):])


def plain_description(app, ctx, lines):
    lines[:] = [escape(line) for line in lines]


def plain_options(app, ctx, lines):
    for i, line in enumerate(lines):
        text = line.lstrip(" ")
        if line.startswith("    ") and not text.startswith(":"):
            lines[i] = line[: len(line) - len(text)] + escape(text)


# numpydoc, given its docstring template compiled once for the build: its own
# get_doc_object compiles the template again for every object it documents, 2 s of the
# HTML build's 11.7 s of CPU (9.6 s with this; the pages are the same). numpydoc's
# setup takes the function it calls instead of its own.
@functools.cache
def numpydoc_template(builder: Builder | None) -> Template:
    folder = str(Path(docscrape_sphinx.__file__).parent / "templates")
    if builder is None:  # signatures: numpydoc renders nothing with the template
        loader = FileSystemLoader(folder)
    else:  # the builder's templates first, as numpydoc has them
        loader = BuiltinTemplateLoader()
        loader.init(builder, dirs=[folder])
    return SandboxedEnvironment(loader=loader).get_template("numpydoc_docstring.rst")


def get_doc_object(obj: object, what: str | None = None, doc: str | None = None, config: dict | None = None,
                   builder: Builder | None = None) -> docscrape.NumpyDocString:
    """numpydoc.docscrape_sphinx.get_doc_object, the template compiled once."""
    return docscrape.get_doc_object(obj, what, doc, {**(config or {}), "template": numpydoc_template(builder)},
                                    class_doc=docscrape_sphinx.SphinxClassDoc,
                                    func_doc=docscrape_sphinx.SphinxFunctionDoc,
                                    obj_doc=docscrape_sphinx.SphinxObjDoc)


def setup(app):
    numpydoc.setup(app, get_doc_object_=get_doc_object)
    app.connect("sphinx-click-process-description", plain_description)
    app.connect("sphinx-click-process-epilog", plain_description)
    app.connect("sphinx-click-process-options", plain_options)
