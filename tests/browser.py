"""A page opened in headless chromium, as the HTML reports' tests check it: the DOM chromium built
(with no console error or uncaught exception) and a screenshot. One place for the command line, so
every report is looked at the same way."""

from __future__ import annotations

import subprocess
from pathlib import Path

HEADLESS = ["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0"]


def dom_of(binary: str, page: Path) -> str:
    """The page's DOM after chromium ran it; fails the test on a crash or a console message."""
    dom = subprocess.run(
        [binary, *HEADLESS, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=90, check=False
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line] == []
    return dom.stdout


def screenshot(binary: str, page: Path, shot: Path, size: str = "900,1800") -> Path:
    """A PNG of the page at ``size`` (width,height), for a person to look at."""
    subprocess.run(
        [binary, *HEADLESS, f"--window-size={size}", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=90,
        check=False,
    )
    return shot
