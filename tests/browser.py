"""Headless Debian chromium for the browser tests (driven by Playwright's Python client).

No browser is downloaded: Playwright launches the system chromium (``/usr/bin/chromium``,
or ``$INCENTIVE_CHROMIUM``), which ``make test`` installs with apt when it is missing.
A missing browser is a test failure, not a skip.
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str:
    path = os.environ.get("INCENTIVE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise RuntimeError(f"chromium not found at {path}: run `make test` (it installs Debian's chromium) "
                           "or set INCENTIVE_CHROMIUM")
    return path


@contextmanager
def browser_page(width: int = 1280, height: int = 900):
    """A fresh page; yields ``(page, console_errors)`` where console errors accumulate."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            yield page, errors
        finally:
            browser.close()


def non_blank(png: bytes, min_colours: int = 8) -> bool:
    """True when a screenshot has real content: several distinct colours, not one flat fill."""
    import io

    import numpy as np
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    colours = np.unique(img[:: max(1, len(img) // 200_000)], axis=0)
    return len(colours) >= min_colours
