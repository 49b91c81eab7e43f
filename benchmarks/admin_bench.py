"""Figures for the librarian's sign-in: how long one Argon2id hash takes here.

Run: ./dev bench   (or .venv/bin/python benchmarks/admin_bench.py)
A Raspberry Pi 3 is roughly 5 to 8 times slower per core than this 2-core development
machine; the parameters (19 MiB, 2 passes, 1 lane) are OWASP's recommendation.
"""

from __future__ import annotations

import statistics
import time

from kiosk.device.admin import HASHER


def main() -> None:
    times = []
    stored = HASHER.hash("a password of some length")
    for _ in range(20):
        started = time.perf_counter()
        HASHER.verify(stored, "a password of some length")
        times.append(time.perf_counter() - started)
    median = statistics.median(times) * 1000
    print(f"Argon2id verify (m=19 MiB, t=2, p=1)   median {median:6.1f} ms over 20 runs")
    print(f"100 failed sign-ins an hour cost       {median * 100 / 1000:6.2f} s of CPU an hour")


if __name__ == "__main__":
    main()
