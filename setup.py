"""Build hook: compile tidewire's frame engine with Cython when it can, never fail the install.

``src/tidewire/ws/_frames_py.py`` (with the C types of ``_frames_py.pxd``) is
compiled into the extension ``tidewire.ws._frames_c``. The build is optional,
as the reference engine (wsproto) always works: without Cython, without a C
compiler, or when compiling fails, the install goes on without the extension
and says so. ``TIDEWIRE_NO_EXTENSIONS=1`` at install time skips the build.
Everything else about the package lives in ``pyproject.toml``.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
ENGINE_SOURCE = ROOT / "src" / "tidewire" / "ws" / "_frames_py.py"
ENGINE_TYPES = ROOT / "src" / "tidewire" / "ws" / "_frames_py.pxd"
EXTENSION = "tidewire.ws._frames_c"


def _skip_requested() -> bool:
    value = os.environ.get("TIDEWIRE_NO_EXTENSIONS", "")
    return value not in ("", "0")


def _cython_source() -> str | None:
    """The engine source copied under the extension's name, ready for Cython; None if no Cython.

    Cython names the module after its file and finds the ``.pxd`` by that name, so
    ``_frames_py.py/.pxd`` are copied to ``build/cython/tidewire/ws/_frames_c.py/.pxd``.
    """
    try:
        import Cython  # noqa: F401
    except ImportError:
        return None
    if not (ENGINE_SOURCE.is_file() and ENGINE_TYPES.is_file()):
        return None
    target = ROOT / "build" / "cython" / "tidewire" / "ws"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ENGINE_SOURCE, target / "_frames_c.py")
    shutil.copyfile(ENGINE_TYPES, target / "_frames_c.pxd")
    # Package markers, so that Cython resolves the module (and its .pxd) as tidewire.ws._frames_c.
    for package in (target, target.parent):
        (package / "__init__.py").touch()
    return str((target / "_frames_c.py").relative_to(ROOT))


class OptionalBuildExt(build_ext):
    """``build_ext`` that reports a failed compilation and carries on without the extension."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # no compiler, missing headers, ...
            self._give_up(exc)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            # A stale module from an earlier build must not ship in place of this one.
            Path(self.get_ext_fullpath(ext.name)).unlink(missing_ok=True)
            self._give_up(exc)

    def _give_up(self, exc: BaseException) -> None:
        print(
            f"WARNING: tidewire's compiled frame engine was not built ({exc!r}); "
            "tidewire will use its reference engine (wsproto).",
            file=sys.stderr,
        )


def _extensions() -> list[Extension]:
    if _skip_requested():
        print("TIDEWIRE_NO_EXTENSIONS is set: not building the compiled frame engine.")
        return []
    source = _cython_source()
    if source is None:
        print("WARNING: no Cython (or no engine source): not building the compiled frame engine.")
        return []
    from Cython.Build import cythonize

    try:
        return cythonize(
            [Extension(EXTENSION, [source], extra_compile_args=["-O2"])],
            compiler_directives={"language_level": "3"},
            quiet=True,
        )
    except Exception as exc:
        print(f"WARNING: Cython failed ({exc!r}): not building the compiled frame engine.")
        return []


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
