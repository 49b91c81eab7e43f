"""A radio pack: a release's guides made ready for community radio, one folder per language.

Many people first hear about migration on community radio, not on a screen. A pack holds::

    OUT/README.txt              what the pack is, in English: languages, loudness, a warning
    OUT/<lang>/NN-<guide>.mp3   each guide's track at -23 LUFS, true peak at most -1 dBTP
    OUT/<lang>/script.txt       the words those tracks speak, in their order, plain UTF-8

NN is the guide's place in the catalog (01, 02, ...). A guide with no recording in a language
gets no track there; a language with none at all (no voice) gets its script only. The release
is verified first, and only the copies of its files that were checked are read, so nothing
from a changed release reaches the pack. The pack is written beside OUT and renamed into
place whole, so a failure leaves no half pack. Each track's sound is made in
kiosk.content.radio_sound, the scripts and the README are written in kiosk.content.radio_text.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.content.build import CATALOG_FORMAT
from kiosk.content.radio_sound import normalise
from kiosk.content.radio_text import Track, readme, script
from kiosk.errors import KioskError, ReleaseNotFound, ReleaseRejected, require_tool
from kiosk.formats.integrity import check_file
from kiosk.formats.manifest import PublicKey, shown, verify_release
from kiosk.hq.root import CHANNEL_NAME

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,62}\Z")


class PackRefused(KioskError, ValueError):
    """The radio pack was not made; nothing was written."""


@dataclass
class RadioPack:
    out: Path
    version: int
    languages: int
    guides: int
    tracks: int
    audio_ms: int
    bytes: int
    seconds: float
    text_only: list[str] = field(default_factory=list)  # languages with no track at all


def find_release(version: str, root: Path | None, channel: str = "stable") -> Path:
    """The release folder VERSION names: a folder, or a number published under ``root``."""
    if not (version.isascii() and version.isdigit()):
        return Path(version)
    if root is None:
        raise PackRefused(
            f"{version} looks like a release number: say where headquarters keeps its releases "
            f"with --root, or give the release's folder as a path (./{version})."
        )
    if not CHANNEL_NAME.fullmatch(channel):
        raise PackRefused("A channel name uses a-z, 0-9 and '-'.")
    folder = root / "releases" / channel / version
    if not folder.is_dir():
        latest = root / "releases" / channel / "LATEST"
        newest = latest.read_text(errors="replace").strip() if latest.is_file() else "none"
        raise ReleaseNotFound(
            f"There is no release {version} on channel {channel} at {root} "
            f"(the latest published there is {shown(newest, 20)})."
        )
    return folder


def radio_pack(
    release_dir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    keys: list[PublicKey],
    progress: Callable[[str], None] | None = None,
) -> RadioPack:
    """Verify the release at ``release_dir`` and write its radio pack to the new folder ``out``."""
    started = time.monotonic()
    say = progress or (lambda _msg: None)
    release_dir, out = Path(release_dir), Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise PackRefused(f"{out} already exists and is not an empty folder; choose a new one.")
    manifest = verify_release(release_dir, keys)
    listed = {entry["path"]: entry for entry in manifest.files}
    work = out.parent / f".{out.name}.radio-{os.getpid()}"

    def checked(rel: str) -> Path:
        # The copy made while checking, never the release's file again: a file swapped
        # after verify_release cannot reach the pack.
        if rel not in listed:
            raise ReleaseRejected(
                f"The release's catalog names {shown(rel)}, which it does not list."
            )
        check_file(release_dir, listed[rel], copy_to=work / "source" / rel)
        return work / "source" / rel

    try:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        catalog = _catalog(checked("catalog.json"))
        tracks = tracks_of(catalog)
        spoken = [t for t in tracks if t.name]
        ffmpeg = require_tool("ffmpeg", "ffmpeg") if spoken else ""
        pack = work / "pack"
        for n, track in enumerate(spoken, 1):
            say(f"[{n}/{len(spoken)}] {track.name}")
            track.level = normalise(
                ffmpeg,
                checked(track.text["audio"]),
                pack / str(track.name),
                _tags(catalog, track, manifest.version),
                work,
            )
        for lang in catalog["languages"]:
            mine = [t for t in tracks if t.lang == lang["tag"]]
            (pack / lang["tag"]).mkdir(parents=True, exist_ok=True)
            (pack / lang["tag"] / "script.txt").write_text(
                script(lang, mine, manifest.version), encoding="utf-8"
            )
        (pack / "README.txt").write_text(
            readme(catalog, tracks, manifest.version, manifest.key_id), encoding="utf-8"
        )
        if out.exists():
            out.rmdir()
        os.replace(pack, out)
    except KioskError:
        raise
    except OSError as exc:
        raise KioskError(
            f"The radio pack could not be written to {out}: {exc.strerror or exc}."
        ) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)

    files = [p for p in out.rglob("*") if p.is_file()]
    return RadioPack(
        out=out,
        version=manifest.version,
        languages=len(catalog["languages"]),
        guides=len(catalog["guides"]),
        tracks=len(spoken),
        audio_ms=sum(t.text["duration_ms"] for t in spoken),
        bytes=sum(p.stat().st_size for p in files),
        seconds=time.monotonic() - started,
        text_only=[
            lang["tag"]
            for lang in catalog["languages"]
            if not any(t.name for t in tracks if t.lang == lang["tag"])
        ],
    )


# ---------------------------------------------------------------- reading the release


def _catalog(path: Path) -> dict:
    try:
        catalog = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ReleaseRejected("The release's catalog.json is not readable.") from None
    if not isinstance(catalog, dict) or catalog.get("format") not in (1, CATALOG_FORMAT):
        raise ReleaseRejected(
            "The release's catalog is in a format this kiosk does not know. Update the kiosk "
            "software first."
        )
    return catalog


def _file_name(value: object, what: str) -> str:
    # Signed, but still checked before it becomes part of a path, as the manifest's names are.
    if not isinstance(value, str) or not _NAME.match(value):
        raise ReleaseRejected(f"The release's catalog has a {what} that cannot name a file: "
                              f"{shown(value, 40)}.")  # fmt: skip
    return value


def tracks_of(catalog: dict) -> list[Track]:
    """Every guide in each language it is in, in catalog order, named as the pack names its
    files."""
    guides = catalog["guides"]
    width = max(2, len(str(len(guides))))  # 01 .. 99, then 001: names still sort in order
    tracks = []
    for lang in catalog["languages"]:
        tag = _file_name(lang["tag"], "language tag")
        for number, guide in enumerate(guides, 1):
            if tag not in guide["text"]:
                continue  # not translated yet; numbers stay the guide's in every language
            text = guide["text"][tag]
            stem = f"{number:0{width}d}-{_file_name(guide['id'], 'guide id')}"
            name = f"{tag}/{stem}.mp3" if text.get("audio") else None
            tracks.append(Track(tag, number, text, name))
    return tracks


def _tags(catalog: dict, track: Track, version: int) -> list[str]:
    """ID3 tags a playout system shows: the guide's title, the language, the release."""
    name = next(lang["name"] for lang in catalog["languages"] if lang["tag"] == track.lang)
    return [
        "-metadata", f"title={track.number:02d} {track.text['title']}",
        "-metadata", f"album=First Mile guides, {name}, release {version}",
        "-metadata", "artist=First Mile",
        "-metadata", f"track={track.number}/{len(catalog['guides'])}",
    ]  # fmt: skip
