"""Shared fixtures. Settings are always built explicitly: no test reads a developer's `.env` or environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT, Settings

SEEDS = PROJECT_ROOT / "seeds"


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings.explicit(seeds_dir=SEEDS, data_dir=tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def searcher(settings: Settings):  # type: ignore[no-untyped-def]
    from bot.app import build_searcher

    return build_searcher(settings)


@pytest.fixture(scope="session")
def core(settings: Settings, searcher):  # type: ignore[no-untyped-def]
    from bot.app import build_core

    return build_core(settings, searcher)


@pytest.fixture()
def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a `dutybot` subprocess: explicit settings, a temp data dir, no inherited secrets."""
    import os

    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT"}}
    return {**keep, "SEEDS_DIR": str(SEEDS), "DATA_DIR": str(tmp_path / "data"), "PYTHONIOENCODING": "utf-8"}
