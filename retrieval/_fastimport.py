"""Importing jieba and zhconv without pkg_resources.

Both (jieba 0.42, zhconv 1.4) import pkg_resources — all of setuptools' resource API, 0.1-0.2 s, a
fifth of a cold `dutybot ask` — only to open data files they ship, and both open the same files from
their own folder when that import fails. So pkg_resources is hidden while they load, unless something
else has imported it already (then it costs nothing more and is left alone).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def without_pkg_resources() -> Iterator[None]:
    hide = "pkg_resources" not in sys.modules
    if hide:
        sys.modules["pkg_resources"] = None  # type: ignore[assignment]  # "import pkg_resources" fails
    try:
        yield
    finally:
        if hide and sys.modules.get("pkg_resources", 0) is None:
            del sys.modules["pkg_resources"]
