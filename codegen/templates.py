"""The one Jinja2 environment of the code generators, over the templates shipped as package data.

Templates live in the data packages ``nash.hls_templates`` (checkout folder ``hls_templates/``) and
``nash.vivado_tcl`` (``vivado_tcl/``) and are read through :mod:`importlib.resources`, so a wheel, a zip or a checkout
behave the same. A template's name is its path from the checkout root, e.g. ``hls_templates/src/top.cpp.j2``.

Options: undefined names are errors (``StrictUndefined``) and a template's final newline is kept. The PE-array
templates (``hls_templates/pe_arrays/``) are written for trimmed block lines (``trim_blocks``, ``lstrip_blocks``); the
others print every line as written. Both sets share one loader, one set of filters and globals: the trimmed one is an
overlay of :data:`ENV`, chosen by :func:`get_template` from the template's folder.
"""

from __future__ import annotations

from importlib import resources

import jinja2
from jinja2.loaders import split_template_path

DATA_PACKAGES = {"hls_templates": "nash.hls_templates", "vivado_tcl": "nash.vivado_tcl"}
TRIMMED_FOLDERS = ("hls_templates/pe_arrays/",)


class ResourceLoader(jinja2.BaseLoader):
    """Files of one data package, read with :func:`importlib.resources.files` (no file-system paths)."""

    def __init__(self, package: str) -> None:
        self.package = package

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, None]:
        res = resources.files(self.package)
        for part in split_template_path(template):  # one part per call: every Traversable takes that
            res = res.joinpath(part)
        if not res.is_file():
            raise jinja2.TemplateNotFound(template)
        # package data does not change while the process runs: no up-to-date check (None = always current)
        return res.read_text(encoding="utf-8"), f"{self.package}/{template}", None


ENV = jinja2.Environment(
    loader=jinja2.PrefixLoader({folder: ResourceLoader(pkg) for folder, pkg in DATA_PACKAGES.items()}, delimiter="/"),
    undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=False, lstrip_blocks=False)
TRIMMED_ENV = ENV.overlay(trim_blocks=True, lstrip_blocks=True)


def get_template(name: str) -> jinja2.Template:
    """The template ``name`` (path from the checkout root), compiled with its folder's whitespace options."""
    return (TRIMMED_ENV if name.startswith(TRIMMED_FOLDERS) else ENV).get_template(name)


def source(name: str) -> str:
    """The text of a shipped file that is copied as is (not a template), e.g. ``hls_templates/src/nash_common.h``."""
    return ENV.loader.get_source(ENV, name)[0]
