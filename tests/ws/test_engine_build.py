"""The compiled engine is built where it can be, from the current source, and is compiled C."""

from __future__ import annotations

import os
import shutil
import sysconfig
from pathlib import Path

import pytest

from tidewire.ws import _frames_py

from .engine_harness import ENGINES

SOURCE = Path(_frames_py.__file__)


def _build_expected() -> bool:
    """A C compiler is here and nobody asked for the pure engine only."""
    if os.environ.get("TIDEWIRE_NO_EXTENSIONS", "") not in ("", "0"):
        return False
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(compiler) is not None


@pytest.mark.skipif(not _build_expected(), reason="no C compiler, or TIDEWIRE_NO_EXTENSIONS set")
def test_compiled_engine_is_built_and_current() -> None:
    """`make install` (pip install -e .) builds tidewire.ws._frames_c; a stale build is an error."""
    assert "c" in ENGINES, "tidewire.ws._frames_c is missing: run `make install` or `make engine`"
    from tidewire.ws import _frames_c

    built = Path(_frames_c.__file__)
    assert built.suffix in (".so", ".pyd"), f"{built} is not an extension module"
    for source in (SOURCE, SOURCE.with_suffix(".pxd")):
        assert built.stat().st_mtime >= source.stat().st_mtime, (
            f"{built.name} is older than {source.name}: run `make engine`"
        )


def test_compiled_engine_is_an_extension_type() -> None:
    """The compiled Engine keeps its state in C slots, the pure one in Python attributes."""
    from tidewire.ws.engine import Side

    pure = ENGINES["py"](Side.SERVER, None, 0)
    assert hasattr(pure, "__dict__")
    if "c" in ENGINES:
        compiled = ENGINES["c"](Side.SERVER, None, 0)
        assert not hasattr(compiled, "__dict__")
