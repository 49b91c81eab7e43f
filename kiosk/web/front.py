"""The folder the device's front server (nginx) serves files from: the live release, nothing else.

On the device, nginx answers the hotspot (kiosk-proxy.service): it sends the release's audio,
pictures, CSS and JS itself, with sendfile and byte ranges, holds slow phones in its event
loop, and passes every page, search and form to kiosk-web. It serves files only from
``<data_dir>/www``, which this module keeps equal to the live release's servable files:

    www/media/<version>/<path>    hard links to the files the signed manifest lists (not its
                                  JSON and search index, which are the app's own business)
    www/static/<fingerprint>/<name>   the app's CSS and JS, with a .gz beside each

A folder is built aside (``www/.building``) and renamed into place whole, then every other
version is removed: a path outside the live release is gone as soon as the new one is live.
URLs carry the version, so a file nginx does not have falls through to the app, which
checks it against the manifest once more. When no release verifies, ``www/media`` is empty.
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

from kiosk.library import Release

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
