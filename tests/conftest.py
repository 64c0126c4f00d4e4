"""Shared fixtures (helpers live in support.py, importable by any test)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support import Project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[[str], Project]:
    def make(name: str) -> Project:
        root = tmp_path / name
        root.mkdir()
        return Project(root)

    return make
