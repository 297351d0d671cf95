"""The build step that puts the kit into a wheel (the project's metadata is in pyproject.toml).

A checkout keeps the templates, the SAM template, the demo scenario and the seed and sandbox
series at its top, where SAM, the docs and organisers point. A wheel must carry them for an
installed ``webinar-notify demo`` or ``serve``: this copies the files that
``webinar_notify/kit.py`` lists into ``webinar_notify/kit_files/`` of the build, in the same
layout. An editable install copies nothing: there, the kit is the checkout itself.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
KIT_MODULE = ROOT / "functions" / "webinar_notify" / "kit.py"


def kit_constant(name: str) -> object:
    """A literal from kit.py, read without importing the package (it needs its dependencies)."""
    tree = ast.parse(KIT_MODULE.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise SystemExit(f"{KIT_MODULE}: no {name} = ...")


class BuildWithKit(build_py):
    """build_py, then the kit files into the package (not for an editable install)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "webinar_notify" / str(kit_constant("PACKAGED_DIR"))
        if target.exists():
            shutil.rmtree(target)
        files = kit_constant("FILES")
        if not isinstance(files, tuple):
            raise SystemExit(f"{KIT_MODULE}: FILES is not a tuple")
        for relative in files:
            source, destination = ROOT / relative, target / relative
            if source.is_dir():
                shutil.copytree(source, destination,
                                ignore=shutil.ignore_patterns("__pycache__", ".*"))
            elif source.is_file():
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, destination)
            else:
                raise SystemExit(f"the kit file {relative} is missing: the wheel would not run "
                                 "`webinar-notify demo`")


setup(cmdclass={"build_py": BuildWithKit})
