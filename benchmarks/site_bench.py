"""Figures for the guide site: page weight over the wire, second visits, and load.

Run: ./dev bench   (or .venv/bin/python benchmarks/site_bench.py)
Builds the sample release, serves it with `kiosk serve` pinned to one CPU core, and runs
wrk (50 connections) against it and, in the same run, against nginx serving the very same
pages as static files on the same core. Prints figures; asserts nothing.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kiosk.content.build import build_release  # noqa: E402
from kiosk.device.install import ReleaseStore  # noqa: E402
from kiosk.formats.manifest import generate_key  # noqa: E402
from kiosk.speech import Speaker  # noqa: E402

PAGES = ["/", "/ne/", "/ar/guide/documents", "/es/guide/recruiters", "/en/help", "/ro/guide/money"]
CONNECTIONS = 50
SECONDS = 10
WRK_SCRIPT = """
paths = {%s}
i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def fetch(url: str, headers: dict | None = None):
    """(status, body, headers) for a GET on the loopback server; headers ignore case."""
    req = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback http only
    try:
        with urllib.request.urlopen(req) as r:  # noqa: S310 - loopback http only
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def weight(base: str, path: str) -> dict:
    """Bytes over the wire (gzip) for a page's HTML, CSS and JS; then the same on a revisit."""
    _, html, headers = fetch(base + path, {"Accept-Encoding": "gzip"})
    body = gzip.decompress(html) if headers.get("Content-Encoding") == "gzip" else html
    assets = re.findall(rb'(?:href|src)="(/static/[^"]+)"', body)
    first = len(html) + sum(
        len(fetch(base + a.decode(), {"Accept-Encoding": "gzip"})[1]) for a in assets
    )
    revisit_status, revisit, _ = fetch(
        base + path, {"Accept-Encoding": "gzip", "If-None-Match": headers.get("ETag", "")}
    )
    return {"first": first, "html": len(html), "revisit": len(revisit), "status": revisit_status}


def rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        status = Path(f"/proc/{pid}/status").read_text()
        total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    return total


def wrk(base: str, tmp: Path) -> dict:
    script = tmp / "paths.lua"
    script.write_text(WRK_SCRIPT % ", ".join(f'"{p}"' for p in PAGES))
    out = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency",
         "-s", str(script), base],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": ms("50%"),
        "p99": ms("99%"),
        "errors": errors + (int(non2xx.group(1)) if non2xx else 0),
    }


def main() -> None:
    for tool in ("wrk", "nginx", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: ./dev bench installs it")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        tmp.chmod(0o755)  # nginx's worker runs as another user and must read the pages
        key = tmp / "key"
        public = generate_key(key)
        cache = Path(os.environ.get("KIOSK_SPEECH_CACHE_DIR", tmp / "cache"))
        build_release(ROOT / "content", tmp / "release", key, Speaker(cache), version=1)
        ReleaseStore(tmp / "data").install(tmp / "release", [public])

        port = 18080
        env = {
            **os.environ,
            "KIOSK_DATA_DIR": str(tmp / "data"),
            "KIOSK_TRUSTED_KEYS": public.source,
        }
        server = subprocess.Popen(
            ["taskset", "-c", "0", sys.executable, "-m", "kiosk.cli", "serve", "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    fetch(base + "/")
                    break
                except OSError:
                    time.sleep(0.1)
            weights = {
                p: weight(base, p) for p in ("/ne/", "/ar/guide/documents", "/es/guide/recruiters")
            }
            # The same pages as static files for nginx, exactly as the kiosk renders them.
            static = tmp / "static"
            static.mkdir(mode=0o755)
            for path in PAGES:
                _, body, _ = fetch(base + path)
                target = static / path.lstrip("/")
                target = target / "index.html" if path.endswith("/") else target
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(body)
            idle_rss = rss_kb([server.pid])
            kiosk = wrk(base, tmp)
            kiosk_rss = rss_kb([server.pid])
        finally:
            server.terminate()
            server.wait()

        conf = tmp / "nginx.conf"
        conf.write_text(f"""
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  default_type text/html;
  server {{ listen 127.0.0.1:{port + 1}; root {static}; index index.html; }}
}}
""")
        nginx = subprocess.Popen(["taskset", "-c", "0", "nginx", "-c", str(conf), "-p", str(tmp)])
        try:
            time.sleep(0.5)
            workers = [nginx.pid] + [
                int(p) for p in subprocess.run(
                    ["pgrep", "-P", str(nginx.pid)], capture_output=True, text=True, check=False
                ).stdout.split()
            ]  # fmt: skip
            static_run = wrk(f"http://127.0.0.1:{port + 1}", tmp)
            nginx_rss = rss_kb(workers)
        finally:
            nginx.terminate()
            nginx.wait()

    print("Page weight over the wire (gzip; HTML + CSS + JS; audio and pictures excluded)")
    for path, w in weights.items():
        first, html = w["first"] / 1024, w["html"] / 1024
        print(f"  {path:22} first visit {first:5.1f} KB (HTML {html:.1f} KB); "
              f"revisit: HTTP {w['status']}, {w['revisit']} bytes of body")  # fmt: skip
    print(f"\nLoad: {CONNECTIONS} connections for {SECONDS} s over {len(PAGES)} pages; "
          "server pinned to one core, wrk on the other")  # fmt: skip
    print(f"  {'':22}{'kiosk (waitress)':>18}{'nginx (static)':>16}")
    print(f"  {'requests/second':22}{kiosk['rps']:>18.0f}{static_run['rps']:>16.0f}")
    print(f"  {'p50 latency (ms)':22}{kiosk['p50']:>18.1f}{static_run['p50']:>16.1f}")
    print(f"  {'p99 latency (ms)':22}{kiosk['p99']:>18.1f}{static_run['p99']:>16.1f}")
    print(f"  {'errors':22}{kiosk['errors']:>18}{static_run['errors']:>16}")
    print(f"  {'resident memory (MB)':22}{kiosk_rss / 1024:>18.1f}{nginx_rss / 1024:>16.1f}")
    print(f"  kiosk at rest: {idle_rss / 1024:.1f} MB; kiosk/nginx throughput ratio: "
          f"{kiosk['rps'] / static_run['rps']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
