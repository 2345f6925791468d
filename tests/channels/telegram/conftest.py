from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.telegram_api import FakeTelegram


@pytest.fixture()
def fake() -> Iterator[FakeTelegram]:
    """A fresh fake Bot API server for each test (a real HTTP server on 127.0.0.1)."""
    with FakeTelegram() as server:
        yield server
