"""Figures for a hotspot full of phones: the device's front (nginx + kiosk serve --proxied)
against waitress alone (wave 1), in one run, on one core, then on a Pi 3's share of one.

Run: ./dev bench   (or .venv/bin/python benchmarks/load_bench.py [--quick] [--pi-share 0.125])

The servers run pinned to core 0 (and, for the Pi stand-in, in a cgroup with a CPU quota, see
docs/performance.md for the factor); the load generator runs on core 1. Prints figures;
asserts nothing.

- Open loop: requests sent at a fixed rate (100, 200, 400 per second) whatever the answers do,
  latency counted from when each was due. The mix: 70 % guide pages, 10 % searches, 20 %
  64 KB ranges of the guides' MP3s, from phones of which half keep the visit cookie.
- Closed loop: wrk at 50, 100 and 200 connections over guide pages, front against nginx
  sending the very same pages as static files (with gzip_static).
- 1,000 slow-header connections for 30 s: the slowest normal request meanwhile.
- 20,000 cookieless requests first, then throughput without and with a cookie.
- 50 concurrent ranged readers of a 2 MB MP3: total memory (PSS) of the serving processes. The
  sample guides' tracks are smaller (the largest is 0.7 MB), so the benchmark's release gives
  one guide a 10-minute recording, as a librarian might make, to stand in.

As on the device, the Unix datagram queue that carries nginx's page reports to the app holds
512 (kiosk.device.nginx.DGRAM_QUEUE; Linux's default is 10): set for the run when it runs as
root, and put back after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kiosk.config import load_settings  # noqa: E402
from kiosk.content.build import build_release  # noqa: E402
from kiosk.device.install import ReleaseStore  # noqa: E402
from kiosk.device.nginx import DGRAM_QUEUE, nginx_conf  # noqa: E402
from kiosk.formats.manifest import generate_key  # noqa: E402
from kiosk.formats.search import guide_texts  # noqa: E402
from kiosk.speech import SAMPLE_RATE, Speaker  # noqa: E402

HOST = "10.42.0.1"
SEARCH_WORDS = ["passport", "visa", "contract", "money", "recruiter", "पासपोर्ट", "pasaporte"]


# ---------------------------------------------------------------- the servers


def cpu_group(share: float | None) -> Path | None:
    """A cgroup allowing `share` of one core (10 ms periods), or None for a whole core."""
    if share is None:
        return None
    name = f"kiosk-bench-{os.getpid()}"
    v2 = Path("/sys/fs/cgroup")
    if (v2 / "cgroup.controllers").exists():
        with contextlib.suppress(OSError):
            (v2 / "cgroup.subtree_control").write_text("+cpu")
        group = v2 / name
        group.mkdir(exist_ok=True)
        (group / "cpu.max").write_text(f"{int(share * 10000)} 10000")
        return group
    group = v2 / "cpu" / name
    group.mkdir(exist_ok=True)
    (group / "cpu.cfs_period_us").write_text("10000")
    (group / "cpu.cfs_quota_us").write_text(str(int(share * 10000)))
    return group


def start(cmd: list[str], group: Path | None, **kw) -> subprocess.Popen:
    def enter():
        if group is not None:
            (group / "cgroup.procs").write_text(str(os.getpid()))

    return subprocess.Popen(["taskset", "-c", "0", *cmd], preexec_fn=enter, **kw)


def wait_for_port(port: int) -> None:
    import socket

    for _ in range(200):
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def tree(pid: int) -> list[int]:
    kids = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [pid] + [p for k in kids.split() for p in tree(int(k))]


def pss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
            total += int(re.search(r"^Pss:\s+(\d+)", text, re.M).group(1))
    return total / 1024


def cpu_ms(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total * 1000 / os.sysconf("SC_CLK_TCK")


class Servers:
    """One configuration running: 'waitress' (kiosk serve alone) or 'front' (nginx in front)."""

    def __init__(self, kind: str, tmp: Path, env: dict, group: Path | None) -> None:
        self.app_port, self.front_port = 18180, 18181
        # Read before the server starts: the warm-up's counts may be written (every 2 s) before
        # the load begins, and subtracting them from a later reading would count them twice.
        self.counted_before = pages_counted(Path(env["KIOSK_DATA_DIR"]))
        counts = tmp / "counts.sock"
        args = ["serve", "--port", str(self.app_port)]
        if kind == "front":
            args += ["--proxied", "--counts-socket", str(counts)]
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        self.procs = [start([sys.executable, "-m", "kiosk.cli", *args], group, env=env, **quiet)]
        wait_for_port(self.app_port)
        self.port = self.app_port
        if kind == "front":
            settings = load_settings(environ={}, data_dir=env["KIOSK_DATA_DIR"], port=self.app_port)
            run = tmp / "run"
            shutil.rmtree(run, ignore_errors=True)
            run.mkdir()
            conf = tmp / "front.conf"
            user = "root root" if os.geteuid() == 0 else ""
            listen = f"127.0.0.1:{self.front_port}"
            conf.write_text(nginx_conf(settings, listen=listen, runtime=str(run), user=user,
                                       counts=str(counts)))  # fmt: skip
            self.procs.append(start(["nginx", "-e", "stderr", "-c", str(conf)], group, **quiet))
            wait_for_port(self.front_port)
            self.port = self.front_port
            # Measured in its steady state: the phone pages drawn for nginx (as they are a few
            # seconds after the device starts), not while they are being drawn.
            pages = Path(env["KIOSK_DATA_DIR"]) / "www" / "pages"
            for _ in range(600):
                if pages.is_dir():
                    break
                time.sleep(0.1)
        # Every page asked for once: both servers start each run with their caches warm.
        self.warm(Path(env["KIOSK_DATA_DIR"]))

    def warm(self, data: Path) -> None:
        phones = Phones(data, count=1)

        paths = phones.pages + [f"/{lang}/" for lang in phones.langs]
        self.warmed = len(paths)  # counted too, and saved with the run's counts at the end

        async def visit_all() -> None:
            conn = await asyncio.open_connection("127.0.0.1", self.port)
            for path in paths:
                await ask(*conn, path, {"Accept-Encoding": "gzip"})
            conn[1].close()

        asyncio.run(visit_all())

    def memory(self) -> float:
        return pss_mb([p for proc in self.procs for p in tree(proc.pid)])

    def cpu_ms(self) -> list[float]:
        """CPU time used so far (user + system), in ms: the app's processes, then nginx's."""
        return [cpu_ms(tree(proc.pid)) for proc in self.procs]

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
            proc.wait()


# ---------------------------------------------------------------- a phone's requests


class Phones:
    """Who asks for what: guides in their languages, searches, and audio ranges."""

    def __init__(self, data: Path, count: int = 2000) -> None:
        live = ReleaseStore(data).active()
        catalog = json.loads((live / "catalog.json").read_text())
        langs = [lang["tag"] for lang in catalog["languages"]]
        self.pages = [f"/{lang}/guide/{g['id']}" for g in catalog["guides"] for lang in langs]
        self.langs = langs
        # What people type is mostly not what the last person typed: half the searches are
        # one of a few common words (their result pages soon kept), half any word of the
        # guides in that language (mostly drawn afresh: a release has thousands).
        self.words = {lang: guide_words(catalog, lang) for lang in langs}
        mp3s = sorted(live.rglob("*.mp3"), key=lambda p: p.stat().st_size)[-20:]
        self.audio = [(f"/media/{live.name}/{p.relative_to(live)}", p.stat().st_size) for p in mp3s]
        self.largest = self.audio[-1]
        self.cookies: list[str | None] = [None] * count  # phone i keeps cookies when i is even

    def pick(self, rng: random.Random) -> tuple[int, str, dict]:
        phone = rng.randrange(len(self.cookies))
        headers = {"Accept-Encoding": "gzip"}
        if phone % 2 == 0 and self.cookies[phone]:
            headers["Cookie"] = f"visit={self.cookies[phone]}"
        roll = rng.random()
        if roll < 0.7:
            return phone, rng.choice(self.pages), headers
        if roll < 0.8:
            lang = rng.choice(self.langs)
            words = SEARCH_WORDS if rng.random() < 0.5 else self.words[lang]
            return phone, f"/{lang}/search?q={quote(rng.choice(words))}", headers
        path, size = rng.choice(self.audio)
        first = rng.randrange(max(1, size - 65536))
        headers["Range"] = f"bytes={first}-{first + 65535}"
        return phone, path, headers


def guide_words(catalog: dict, lang: str) -> list[str]:
    """The distinct words of a language's guides, as a phone would type them: letters and
    their marks (a Devanagari vowel sign is a mark, not a word character to re)."""
    words = {
        "".join(ch for ch in raw if unicodedata.category(ch)[0] in "LMN").lower()
        for t in guide_texts(catalog, lang)
        for raw in t.split()
    }
    return sorted(w for w in words if len(w) >= 3 and not w.isdigit())


async def ask(reader, writer, path: str, headers: dict) -> tuple[int, str | None, bool]:
    """One HTTP/1.1 request on an open connection: (status, visit cookie set, keep open)."""
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n{extra}\r\n".encode())
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    status = int(head.split(" ", 2)[1])
    length = re.search(r"(?im)^content-length:\s*(\d+)", head)
    cookie = re.search(r"(?im)^set-cookie:\s*visit=([^;\s]+)", head)
    if length:
        await reader.readexactly(int(length.group(1)))
    else:
        await reader.read()
    keep = length is not None and not re.search(r"(?im)^connection:\s*close", head)
    return status, cookie.group(1) if cookie else None, keep


async def open_loop(port: int, phones: Phones, rate: int, seconds: float) -> dict:
    """Send `rate` requests a second for `seconds`, on time whatever the server does."""
    loop = asyncio.get_running_loop()
    rng = random.Random(rate)
    idle: list[tuple] = []
    latencies: list[tuple[float, str, float]] = []  # (due after start, kind, latency)
    errors = pages = 0
    t0 = loop.time() + 0.2

    async def one(due: float) -> None:
        nonlocal errors, pages
        await asyncio.sleep(max(0, due - loop.time()))
        phone, path, headers = phones.pick(rng)
        conn = idle.pop() if idle else None
        try:
            if conn is None:
                conn = await asyncio.open_connection("127.0.0.1", port)
            status, cookie, keep = await asyncio.wait_for(ask(*conn, path, headers), 10)
            if cookie and phone % 2 == 0:
                phones.cookies[phone] = cookie
            if status >= 500:
                errors += 1
            pages += status in (200, 304) and "Range" not in headers
            kind = "audio" if "Range" in headers else "search" if "/search" in path else "page"
            latencies.append((due - t0, kind, loop.time() - due))
            if keep:
                idle.append(conn)
            else:
                conn[1].close()
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            errors += 1
            if conn is not None:
                conn[1].close()

    await asyncio.gather(*(one(t0 + i / rate) for i in range(int(rate * seconds))))
    for _, writer in idle:
        writer.close()
    every = [latency for _, _, latency in latencies]
    return {
        "p50": percentile(every, 0.5),
        "p99": percentile(every, 0.99),
        # Once the first SETTLE seconds are past: what a phone meets in the hours after.
        "settled": percentile([lat for when, _, lat in latencies if when >= SETTLE], 0.99),
        **{
            kind: percentile([lat for _, k, lat in latencies if k == kind], 0.99)
            for kind in ("page", "search", "audio")
        },
        "errors": errors,
        "pages": pages,
    }


SETTLE = 5.0


def percentile(values: list[float], share: float) -> float:
    """The value `share` of the way up, in ms (nan when there is none)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000


def pages_counted(data: Path) -> int:
    db = data / "usage.db"
    if not db.exists():
        return 0
    with contextlib.closing(sqlite3.connect(db)) as conn:
        row = conn.execute("select sum(pages) from channel_day where channel = 'phone'")
        return row.fetchone()[0] or 0


def measure_open_loop(
    servers: Servers, phones: Phones, rate: int, seconds: float, data: Path
) -> dict:
    """Latency and memory under load; then, once the server has stopped and saved its counts,
    how many of the pages answered were counted (the front's are reported by datagram)."""
    try:
        cpu = servers.cpu_ms()
        result, peak = peak_memory_during(servers, open_loop(servers.port, phones, rate, seconds))
        cpu = [(after - then) / seconds for after, then in zip(servers.cpu_ms(), cpu, strict=True)]
    finally:
        servers.stop()
    counted = pages_counted(data) - servers.counted_before - servers.warmed
    return {**result, "memory": peak, "counted": counted, "cpu": cpu}


# ---------------------------------------------------------------- the other loads


def wrk(url: str, connections: int, seconds: int, script: Path, header: str = "") -> dict:
    cmd = ["taskset", "-c", "1", "wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
           "-s", str(script)] + (["-H", header] if header else []) + [url]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "errors": errors + (int(non2xx.group(1)) if non2xx else 0),
    }


def wrk_script(tmp: Path, paths: list[str]) -> Path:
    script = tmp / "paths.lua"
    script.write_text(
        "paths = {" + ", ".join(f'"{p}"' for p in paths) + "}\ni = 0\n"
        'request = function()\n  i = i % #paths + 1\n  return wrk.format("GET", paths[i], '
        '{["Accept-Encoding"] = "gzip", ["Host"] = "' + HOST + '"})\nend\n'
    )
    return script


async def slow_headers(port: int, count: int, seconds: float) -> dict:
    """`count` connections that send half a header and wait; meanwhile a phone reads guides."""
    slow = []
    for _ in range(count):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /en/ HTTP/1.1\r\nHost: 10.4")
            slow.append(writer)
        except OSError:
            break
    worst, answered, asked = 0.0, 0, 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        asked += 1
        started = time.monotonic()
        with contextlib.suppress(OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            conn = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
            status, _, _ = await asyncio.wait_for(ask(*conn, "/en/", {"Connection": "close"}), 5)
            conn[1].close()
            answered += status == 200
        worst = max(worst, time.monotonic() - started)
        await asyncio.sleep(max(0, 1 - (time.monotonic() - started)))
    for writer in slow:
        writer.close()
    return {"held": len(slow), "answered": answered, "asked": asked, "worst": worst}


async def ranged_readers(port: int, path: str, size: int, readers: int, seconds: float) -> int:
    """`readers` players reading `path` in 64 KB ranges, each on its own connection."""
    end = time.monotonic() + seconds
    done = 0

    async def reader() -> None:
        nonlocal done
        conn = await asyncio.open_connection("127.0.0.1", port)
        offset = 0
        while time.monotonic() < end:
            last = min(size, offset + 65536) - 1
            _, _, keep = await ask(*conn, path, {"Range": f"bytes={offset}-{last}"})
            done += 1
            offset = 0 if last + 1 >= size else last + 1
            if not keep:  # nginx ends a connection after 1,000 requests, as browsers expect
                conn[1].close()
                conn = await asyncio.open_connection("127.0.0.1", port)
        conn[1].close()

    await asyncio.gather(*(reader() for _ in range(readers)))
    return done


def peak_memory_during(servers: Servers, coroutine) -> tuple[object, float]:
    peak = [servers.memory()]

    async def run():
        async def sample():
            while True:
                peak[0] = max(peak[0], servers.memory())
                await asyncio.sleep(0.25)

        sampler = asyncio.create_task(sample())
        try:
            return await coroutine
        finally:
            sampler.cancel()

    return asyncio.run(run()), peak[0]


# ---------------------------------------------------------------- the run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="shorter runs (a smoke test)")
    parser.add_argument("--only", choices=("open", "closed", "faults"), help="one part only")
    parser.add_argument(
        "--pi-share",
        type=float,
        default=0.125,
        help="share of one core standing in for a Pi 3 (docs/performance.md)",
    )
    parser.add_argument("--rates", type=int, nargs="+", default=[100, 200, 400],
                        help="open loop: requests per second")  # fmt: skip
    parser.add_argument("--runs", type=int, default=1, help="open loop: runs of each rate")
    parser.add_argument("--pi-only", action="store_true", help="open loop: the Pi share only")
    parser.add_argument("--front-only", action="store_true", help="open loop: the front only")
    args = parser.parse_args()
    seconds = 5 if args.quick else 20
    for tool in ("wrk", "nginx", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: ./dev bench installs it")
    os.sched_setaffinity(0, {1})
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        tmp.chmod(0o755)
        key = tmp / "key"
        public = generate_key(key)
        cache = Path(
            os.environ.get(
                "KIOSK_SPEECH_CACHE_DIR", Path.home() / ".cache" / "first-mile-kiosk" / "speech"
            )
        )
        speaker = Speaker(cache)
        content = tmp / "content"
        shutil.copytree(ROOT / "content", content)
        long_recording(speaker, content, megabytes=2.0)
        build_release(content, tmp / "release", key, speaker, version=1)
        data = tmp / "data"
        ReleaseStore(data).install(tmp / "release", [public])
        env = {**os.environ, "KIOSK_DATA_DIR": str(data), "KIOSK_TRUSTED_KEYS": public.source}
        phones = Phones(data)
        with device_datagram_queue():
            if args.only in (None, "open"):
                open_loops(tmp, env, phones, seconds, args)
            if args.only in (None, "closed"):
                closed_loop(tmp, env, phones, seconds)
            if args.only in (None, "faults"):
                faults(tmp, env, phones, seconds, quick=args.quick)


@contextlib.contextmanager
def device_datagram_queue():
    """The device's sysctl.d value for the run (as root), Linux's own again after."""
    knob = Path("/proc/sys/net/unix/max_dgram_qlen")
    before = knob.read_text().strip()
    try:
        knob.write_text(f"{DGRAM_QUEUE}\n")
    except OSError:
        print(f"(the datagram queue stays at {before}, not the device's {DGRAM_QUEUE}: not root)")
        yield
        return
    try:
        yield
    finally:
        knob.write_text(f"{before}\n")


def long_recording(speaker: Speaker, content: Path, megabytes: float) -> None:
    """Give the first guide an English intro recording long enough that its track is at least
    ``megabytes``: the guide's own words, spoken again and again."""
    import wave

    guide = sorted(p for p in (content / "guides").iterdir() if p.is_dir())[0]
    words = re.sub(r"[#*_>\[\]()`]", " ", (guide / "en.md").read_text(encoding="utf-8"))
    pcm = speaker.pcm(" ".join(words.split())[:4000], "en")
    # lame's average bitrate comes out near 28 kbit/s for this speech (asked for 20): aim there.
    seconds = megabytes * 1e6 * 8 / 28_000
    repeats = int(seconds * SAMPLE_RATE * 2 / len(pcm)) + 1
    (guide / "audio" / "en").mkdir(parents=True, exist_ok=True)
    with wave.open(str(guide / "audio" / "en" / "intro.wav"), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm * repeats)


def open_loops(tmp: Path, env: dict, phones: Phones, seconds: int, args) -> None:
    print(
        "Open loop: 70 % guide pages, 10 % searches (half of them common words, half any "
        "word of the guides), 20 % 64 KB audio ranges; half the phones keep cookies; "
        f"{seconds} s per run;\nlatency from when each request was due; 'settled': p99 of "
        f"the requests due after the first {SETTLE:.0f} s; page, search, audio: p99 of each"
    )
    print(f"  {'cpu':>9} {'server':>9} {'rate/s':>7} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'settled':>8} {'page':>6} {'search':>7} {'audio':>6} "
          f"{'errors':>7} {'peak MB':>8} {'pages counted/answered':>22} "
          f"{'CPU ms/s: app':>14} {'nginx':>6}")  # fmt: skip
    shares = [(f"{args.pi_share:.3f}", args.pi_share)]
    if not args.pi_only:
        shares.insert(0, ("one core", None))
    for label, share in shares:
        try:
            group = cpu_group(share)
        except OSError as exc:
            print(f"  (no CPU quota here: {exc}; run as root on a machine with cgroups)")
            continue
        try:
            for kind in ("front",) if args.front_only else ("waitress", "front"):
                for rate in args.rates:
                    for _ in range(args.runs):
                        servers = Servers(kind, tmp, env, group)
                        r = measure_open_loop(
                            servers, phones, rate, seconds, Path(env["KIOSK_DATA_DIR"])
                        )
                        print(f"  {label:>9} {kind:>9} {rate:>7} {r['p50']:>8.1f} "
                              f"{r['p99']:>8.1f} {r['settled']:>8.1f} {r['page']:>6.1f} "
                              f"{r['search']:>7.1f} {r['audio']:>6.1f} {r['errors']:>7} "
                              f"{r['memory']:>8.1f} {r['counted']:>7}/{r['pages']:<14} "
                              f"{r['cpu'][0]:>14.0f} "
                              f"{r['cpu'][1] if kind == 'front' else 0:>6.0f}",
                              flush=True)  # fmt: skip
        finally:
            if group is not None:
                group.rmdir()


def closed_loop(tmp: Path, env: dict, phones: Phones, seconds: int) -> None:
    pages = phones.pages[:: max(1, len(phones.pages) // 40)]
    static = tmp / "static"
    script = wrk_script(tmp, pages)
    runs: dict[str, dict] = {}
    for kind in ("waitress", "front"):
        servers = Servers(kind, tmp, env, None)
        try:
            if kind == "waitress":
                for path in pages:  # the same bytes as static files, gzipped as the app sends
                    asyncio.run(static_copy(servers.port, path, static))
            runs[kind] = {c: wrk(f"http://127.0.0.1:{servers.port}", c, seconds, script)
                          for c in (50, 100, 200)}  # fmt: skip
        finally:
            servers.stop()
    conf = tmp / "static.conf"
    run = tmp / "static-run"
    run.mkdir(exist_ok=True)
    user = "user root root;" if os.geteuid() == 0 else ""
    temp = " ".join(f"{kind}_temp_path {run}/{kind};"
                    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))  # fmt: skip
    conf.write_text(f"""{user} worker_processes 1; daemon off; pid {run}/pid;
error_log stderr emerg; events {{ worker_connections 4096; }}
http {{ access_log off; default_type text/html; {temp}
  server {{ listen 127.0.0.1:18182; root {static}; gzip_static on; }} }}""")
    nginx = start(["nginx", "-e", "stderr", "-c", str(conf)], None)
    try:
        wait_for_port(18182)
        plain = {c: wrk("http://127.0.0.1:18182", c, seconds, script) for c in (50, 100, 200)}
    finally:
        nginx.terminate()
        nginx.wait()
    print(f"\nClosed loop (wrk, {seconds} s, {len(pages)} guide pages, gzip), one core, req/s:")
    print(f"  {'connections':>12} {'waitress':>9} {'front':>7} {'nginx static':>13} "
          f"{'front/static':>13} {'errors':>7}")  # fmt: skip
    for c in (50, 100, 200):
        w, f, s = runs["waitress"][c], runs["front"][c], plain[c]
        print(f"  {c:>12} {w['rps']:>9.0f} {f['rps']:>7.0f} {s['rps']:>13.0f} "
              f"{f['rps'] / s['rps']:>13.2f} {w['errors'] + f['errors']:>7}")  # fmt: skip


async def static_copy(port: int, path: str, static: Path) -> bool:
    conn = await asyncio.open_connection("127.0.0.1", port)
    extra = f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nAccept-Encoding: gzip\r\n\r\n"
    conn[1].write(extra.encode())
    head = (await conn[0].readuntil(b"\r\n\r\n")).decode("latin-1")
    body = await conn[0].readexactly(int(re.search(r"(?im)^content-length:\s*(\d+)", head)[1]))
    conn[1].close()
    target = static / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    gz = "content-encoding: gzip" in head.lower()
    target.with_name(target.name + (".gz" if gz else "")).write_bytes(body)
    if gz:
        import gzip

        target.write_bytes(gzip.decompress(body))
    return True


def faults(tmp: Path, env: dict, phones: Phones, seconds: int, quick: bool) -> None:
    hold = 10 if quick else 30
    print(f"\n1,000 slow-header connections held {hold} s; a phone asks for a page each second:")
    for kind in ("waitress", "front"):
        servers = Servers(kind, tmp, env, None)
        try:
            r = asyncio.run(slow_headers(servers.port, 1000, hold))
        finally:
            servers.stop()
        print(f"  {kind:>9}: {r['held']} held, {r['answered']}/{r['asked']} answered, "
              f"slowest {r['worst']:.2f} s")  # fmt: skip

    print("\nCookieless phones (the front; wrk, 50 connections, guide pages):")
    servers = Servers("front", tmp, env, None)
    try:
        script = wrk_script(tmp, phones.pages)
        url = f"http://127.0.0.1:{servers.port}"
        before = servers.memory()
        filled = wrk(url, 50, seconds, script)
        without = wrk(url, 50, seconds, script)
        cookie = asyncio.run(first_cookie(servers.port))
        with_cookie = wrk(url, 50, seconds, script, header=f"Cookie: visit={cookie}")
        after = servers.memory()
    finally:
        servers.stop()
    total = int((filled["rps"] + without["rps"]) * seconds)
    print(f"  after {total:,} cookieless requests: {without['rps']:.0f} req/s without a cookie, "
          f"{with_cookie['rps']:.0f} with one (ratio {without['rps'] / with_cookie['rps']:.2f}); "
          f"memory {before:.1f} -> {after:.1f} MB")  # fmt: skip

    path, size = phones.largest
    print(f"\n50 ranged readers of a {size / 1e6:.1f} MB MP3 ({seconds} s, 64 KB ranges):")
    for kind in ("waitress", "front"):
        servers = Servers(kind, tmp, env, None)
        try:
            done, peak = peak_memory_during(
                servers, ranged_readers(servers.port, path, size, 50, seconds)
            )
        finally:
            servers.stop()
        print(f"  {kind:>9}: {done / seconds:.0f} ranges/s, peak memory {peak:.1f} MB (PSS)")


async def first_cookie(port: int) -> str:
    conn = await asyncio.open_connection("127.0.0.1", port)
    _, cookie, _ = await ask(*conn, "/en/guide/passport", {})
    conn[1].close()
    return cookie or ""


if __name__ == "__main__":
    main()
