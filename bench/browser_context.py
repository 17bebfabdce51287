"""The CPU a browser test pays before it opens a page: a Playwright context and its first page.

    .venv/bin/python bench/browser_context.py

For each Chromium binary (the full browser `/usr/bin/chromium` in headless mode, and Debian's
headless shell `/usr/bin/chromium-headless-shell`, which the browser tests use): the CPU (user +
sys) of Chromium's processes and Playwright's driver, read from /proc, per context opened with a
page on about:blank and closed; and per page opened and closed in one context kept open. Medians
of ROUNDS rounds of EACH; no server and no database.
"""

import os
import statistics
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

BINARIES = ["/usr/bin/chromium", "/usr/bin/chromium-headless-shell"]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
ROUNDS, EACH = 5, 10
TICKS = os.sysconf("SC_CLK_TCK")


def descendants_cpu() -> float:
    """CPU seconds of this process's descendants, alive or reaped by a descendant."""
    children: dict[int, list[int]] = defaultdict(list)
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended while we read
        fields = stat[stat.rfind(")") + 2 :].split()
        children[int(fields[1])].append(int(entry.name))
        ticks[int(entry.name)] = sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    total, pending = 0, list(children[os.getpid()])
    while pending:
        pid = pending.pop()
        total += ticks.get(pid, 0)
        pending.extend(children[pid])
    return total / TICKS


def per_step(step: Callable[[], None]) -> float:
    rounds = []
    for _ in range(ROUNDS):
        before = descendants_cpu()
        for _ in range(EACH):
            step()
        rounds.append((descendants_cpu() - before) / EACH)
    return statistics.median(rounds)


def measure(browser: Browser) -> tuple[float, float]:
    def context_and_page() -> None:
        context = browser.new_context()
        context.new_page().goto("about:blank")
        context.close()

    kept = browser.new_context()

    def page_in_kept_context() -> None:
        page = kept.new_page()
        page.goto("about:blank")
        page.close()

    return per_step(context_and_page), per_step(page_in_kept_context)


def main() -> None:
    with sync_playwright() as playwright:
        for binary in BINARIES:
            if not Path(binary).exists():
                print(f"{binary}: missing", file=sys.stderr)
                continue
            browser = playwright.chromium.launch(executable_path=binary, args=ARGS)
            context_s, page_s = measure(browser)
            browser.close()
            print(f"{binary}: context and page {context_s:.3f} s CPU; a page in a kept context {page_s:.3f} s")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
