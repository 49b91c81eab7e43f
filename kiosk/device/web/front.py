"""The folder the device's front server (nginx) serves files from: the live release, nothing else.

On the device, nginx answers the hotspot (kiosk-proxy.service): it sends the release's audio,
pictures, CSS and JS itself, with sendfile and byte ranges, holds slow phones in its event
loop, and passes every page, search and form to kiosk-web. It serves files only from
``<data_dir>/www``, which this module keeps equal to the live release's servable files:

    www/media/<version>/<path>    hard links to the files the signed manifest lists (not its
                                  JSON and search index, which are the app's own business)
    www/static/<fingerprint>/<name>   the app's CSS and JS, with a .gz beside each
    www/pages/<lang>/index.html, www/pages/<lang>/guide/<id>.html   phone pages drawn once
                                  (``Pages``); nginx reports each one it sends, and the app
                                  counts it (kiosk.device.web.counting.listen_to_front)

A folder is built aside (``www/.building``) and renamed into place whole, then every other
version is removed: a path outside the live release is gone as soon as the new one is live.
URLs carry the version, so a file nginx does not have falls through to the app, which
checks it against the manifest once more. When no release verifies, ``www/media`` is empty.
"""

from __future__ import annotations

import datetime as dt
import gzip
import logging
import os
import shutil
import threading
from pathlib import Path

from kiosk.device.library import Release
from kiosk.device.web.counting import PRERENDER
from kiosk.device.web.state import kiosk_of
from kiosk.errors import ReleaseNotFound

log = logging.getLogger(__name__)

APP_ONLY = ("search.db",)


def servable(release: Release) -> list[str]:
    """The release files a phone may fetch: what the manifest lists, minus the app's own."""
    return sorted(rel for rel in release.files if not rel.endswith(".json") and rel not in APP_ONLY)


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
    try:
        os.link(source, target)  # same bytes, no copy: the release and www share the folder's disk
    except OSError:
        shutil.copyfile(source, target)


def _replace(parent: Path, name: str, build) -> None:
    """Build ``parent/name`` aside with ``build(folder)``, move it in, drop every sibling."""
    parent.mkdir(parents=True, exist_ok=True, mode=0o750)
    final = parent / name
    if not final.is_dir():
        aside = parent.parent / ".building"
        shutil.rmtree(aside, ignore_errors=True)
        aside.mkdir(mode=0o750)
        build(aside)
        os.replace(aside, final)
    for other in parent.iterdir():
        if other.name != name:
            shutil.rmtree(other) if other.is_dir() else other.unlink()


def publish_release(www: Path, release: Release | None) -> None:
    """Make ``www/media`` hold the live release's servable files (or nothing)."""
    media = www / "media"
    if release is None:
        shutil.rmtree(media, ignore_errors=True)
        media.mkdir(parents=True, exist_ok=True, mode=0o750)
        return

    def build(folder: Path) -> None:
        for rel in servable(release):
            _link(release.root / rel, folder / rel)

    _replace(media, str(release.version), build)


def publish_static(www: Path, static: Path, fingerprint: str) -> None:
    """Make ``www/static/<fingerprint>`` hold the app's CSS and JS, each with its .gz."""

    def build(folder: Path) -> None:
        for path in sorted(static.iterdir()):
            body = path.read_bytes()
            (folder / path.name).write_bytes(body)
            (folder / f"{path.name}.gz").write_bytes(gzip.compress(body, 9, mtime=0))

    _replace(www / "static", fingerprint, build)


def warm_search(app, release: Release, host: str = "localhost") -> int:
    """Search once in each language, as nobody (uncounted): what a language's first search
    sets up (its stemmer, its words' keys and places, the page's template) is then ready
    before a phone asks. On the 1/8-core Pi stand-in those first searches held every phone up
    for about a second after each start (benchmarks/load_bench.py). Returns how many
    languages answered."""
    client = app.test_client()
    readied = 0
    for lang in release.languages:
        titles = [g.text[lang]["title"] for g in release.guides if lang in g.text]
        if titles and titles[0].split():
            query = {"q": titles[0].split()[0]}
            response = client.get(
                f"/{lang}/search", query_string=query, headers={"Host": host},
                environ_base={PRERENDER: True},
            )  # fmt: skip
            readied += response.status_code == 200
    return readied


class Pages:
    """The phone pages that are the same for everyone, drawn once into ``www/pages`` for the
    front server: each language's home and each guide, with a .gz beside each.

    They depend on the release, the day (notices come and go by date) and the librarian's
    notices and settings. When one changes, the folder is taken away at once (nginx then
    hands those pages to the app, which draws them as before) and drawn again in the
    background. A page with a query (?thanks=1) always goes to the app.
    """

    def __init__(self, app, www: Path, host: str = "localhost") -> None:
        self.app, self.www, self.host = app, www, host
        self.folder = www / "pages"
        self.drawn: tuple | None = None
        self.generation = 0
        self.wake = threading.Event()
        self.stopped = threading.Event()
        self.lock = threading.Lock()

    def stale(self, *_ignored) -> None:
        """Something a page shows changed: stop serving the drawn pages, draw them again."""
        with self.lock:
            self.generation += 1
            self._remove()
        self.wake.set()

    def _remove(self) -> None:
        if self.folder.exists():
            gone = self.www / f".pages-gone-{self.generation}"
            os.replace(self.folder, gone)
            shutil.rmtree(gone, ignore_errors=True)

    def paths(self, release: Release) -> list[str]:
        return [f"/{lang}/" for lang in release.languages] + [
            f"/{lang}/guide/{guide.id}" for lang in release.languages for guide in release.guides
        ]

    def refresh(self) -> int:
        """Draw the pages if what they show changed; return how many were drawn."""
        try:
            release = kiosk_of(self.app).library.release()
        except ReleaseNotFound:
            with self.lock:
                self._remove()
                self.drawn = None
            return 0
        with self.lock:
            wanted = (release.version, self.generation, dt.date.today())
        if wanted == self.drawn and self.folder.is_dir():
            return 0
        aside = self.www / ".pages-building"
        shutil.rmtree(aside, ignore_errors=True)
        aside.mkdir(parents=True, mode=0o750)
        client = self.app.test_client()
        drawn = 0
        for path in self.paths(release):
            response = client.get(path, headers={"Host": self.host}, environ_base={PRERENDER: True})
            if response.status_code != 200:
                continue
            body = response.get_data()
            target = aside / (path.strip("/") + ("/index.html" if path.endswith("/") else ".html"))
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
            target.write_bytes(body)
            target.with_name(target.name + ".gz").write_bytes(gzip.compress(body, 9, mtime=0))
            drawn += 1
        warm_search(self.app, release, self.host)
        with self.lock:
            if (release.version, self.generation, dt.date.today()) != wanted:
                shutil.rmtree(aside, ignore_errors=True)  # changed meanwhile: draw again
                self.wake.set()
                return 0
            self._remove()
            os.replace(aside, self.folder)
            self.drawn = wanted
        return drawn

    def run(self, every: float = 2) -> threading.Thread:
        """Keep the pages drawn, in a thread: at once, when told, and each `every` seconds.
        Phones' pages no longer reach the app, so this is also how it notices a new release
        (installed by a sync or a stick) and a new day: a link read and a date compared."""

        def loop() -> None:
            while not self.stopped.is_set():
                try:
                    self.refresh()
                except Exception as exc:  # nginx falls back to the app; try again later
                    log.warning("could not draw the pages for the front server: %r", exc)
                self.wake.wait(every)
                self.wake.clear()

        thread = threading.Thread(target=loop, name="front-pages", daemon=True)
        thread.start()
        return thread
