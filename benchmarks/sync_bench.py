"""Figures for sync: bytes on the wire over a real sshd + rsync on 127.0.0.1.

Run: ./dev bench   (or .venv/bin/python benchmarks/sync_bench.py); needs root for sshd.
Prints: the first sync of the sample release; one guide's text changed in one language;
nothing changed; a month of snapshots. Bytes are rsync's own count (sent + received).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from kiosk.config import load_settings  # noqa: E402
from kiosk.device.sync import Peer, pull, push  # noqa: E402
from kiosk.device.usage import snapshot, write_snapshot  # noqa: E402
from kiosk.formats.manifest import generate_key  # noqa: E402
from kiosk.hq import add_device, publish  # noqa: E402
from kiosk.speech import Speaker  # noqa: E402
from tests.sshd import SshServer  # noqa: E402


def changed_bytes(old: Path, new: Path) -> tuple[int, int]:
    files, size = 0, 0
    for path in new.rglob("*"):
        if path.is_file():
            before = old / path.relative_to(new)
            if not before.exists() or before.read_bytes() != path.read_bytes():
                files += 1
                size += path.stat().st_size
    return files, size


def month_of_snapshots(outbox: Path, device: str) -> None:
    rng = random.Random(5)
    start = dt.date.today() - dt.timedelta(days=31)
    for n in range(30):
        day = (start + dt.timedelta(days=n)).isoformat()
        rows = [
            {"day": day, "guide": f"guide-{g}", "lang": lang, "channel": ch,
             "views": rng.randint(0, 30), "listens_started": rng.randint(0, 10),
             "listens_finished": rng.randint(0, 8), "helpful_yes": rng.randint(0, 6),
             "helpful_no": rng.randint(0, 3)}
            for g in range(9)
            for lang in ("en", "ne", "es", "ar", "ro")
            for ch in ("screen", "phone")
        ]  # fmt: skip
        hours = [{"day": day, "hour": h, "pages": rng.randint(0, 40)} for h in range(8, 20)]
        counts = {"guide_day": rows, "hour_day": hours}
        write_snapshot(outbox, snapshot(counts, day, device, 5))


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("sync_bench starts sshd and needs root")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        key = tmp / "key"
        public = generate_key(key)
        cache = Path(os.environ.get("KIOSK_SPEECH_CACHE_DIR", tmp / "cache"))
        speaker = Speaker(cache)
        hq = tmp / "hq"
        server = SshServer(tmp / "sshd")
        try:
            lines = add_device(hq, "bench")
            server.authorized_keys.write_text("\n".join(lines) + "\n")
            publish(ROOT / "content", key, hq, "stable", speaker, version=1)
            settings = load_settings(
                environ={}, data_dir=str(tmp / "device"), device_name="bench",
                trusted_keys=[public.source],
            )  # fmt: skip

            def conn(role: str) -> Peer:
                key_file = str(hq / "devices" / "bench" / f"{role}_key")
                return Peer("127.0.0.1", server.user, key_file, server.port)

            known = server.known_hosts
            _, first = pull(conn("read"), known, settings, [public])

            content = tmp / "content"
            shutil.copytree(ROOT / "content", content)
            ne = content / "guides" / "documents" / "ne.md"
            text = ne.read_text()
            sentence = next(line for line in text.splitlines() if line.endswith("।"))
            ne.write_text(text.replace(sentence, sentence[:-1] + " — यो वाक्य बदलिएको छ।", 1))
            publish(content, key, hq, "stable", speaker, version=2)
            files, size = changed_bytes(hq / "releases/stable/1", hq / "releases/stable/2")
            _, one_guide = pull(conn("read"), known, settings, [public])
            _, nothing = pull(conn("read"), known, settings, [public])

            outbox = tmp / "device" / "outbox"
            month_of_snapshots(outbox, "bench")
            month = push(conn("write"), known, settings)
            month_bytes = sum(p.stat().st_size for p in outbox.glob("usage-*.json"))
            release_bytes = sum(
                p.stat().st_size for p in (hq / "releases/stable/1").rglob("*") if p.is_file()
            )
        finally:
            server.stop()
    print(f"first sync of the sample release      {first.total:>10,} bytes "
          f"(release {release_bytes:,})")  # fmt: skip
    print(f"one guide's text changed (ne)         {one_guide.total:>10,} bytes "
          f"({files} files changed, {size:,} bytes; target <= {2 * size + 10240:,})")  # fmt: skip
    print(f"nothing changed                       {nothing.total:>10,} bytes")
    print(
        f"one month of snapshots (30 days)      {month.total:>10,} bytes ({month_bytes:,} on disk)"
    )


if __name__ == "__main__":
    main()
