"""A read-only view of the live release: languages, words, guides, contacts, files.

The release is verified (signature, expiry, every file) before it is first shown, and again
whenever ``current`` starts pointing somewhere else; until then nothing of it is served.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from markupsafe import Markup, escape

from kiosk.device.install import ReleaseStore
from kiosk.errors import KioskError, ReleaseNotFound
from kiosk.formats.manifest import MANIFEST, PublicKey, trusted_keys, verify_release
from kiosk.formats.search import catalog_words, known_words
from kiosk.lru import LRU
from kiosk.vocabulary import STALE_AFTER_DAYS

log = logging.getLogger(__name__)


class Word(str):
    """An interface word. One a language lacks is shown in the reference language's words,
    and in HTML it says so: ``<span lang="en" dir="ltr">``, so it is read and spoken right.
    Inside an attribute or a title, where no tag can go, use the ``plain`` filter."""

    lang: str | None
    dir: str

    def __new__(cls, text: str, lang: str | None = None, direction: str = "ltr") -> Word:
        word = super().__new__(cls, text)
        word.lang, word.dir = lang, direction
        return word

    def __html__(self) -> Markup:
        text = escape(str(self))
        if self.lang is None:
            return text
        span = f'<span lang="{escape(self.lang)}" dir="{escape(self.dir)}">{text}</span>'
        return Markup(span)  # noqa: S704 - every piece escaped above

    def replace(self, old, new, count=-1) -> Word:  # type: ignore[override]
        return Word(str.replace(self, old, new, count), self.lang, self.dir)


@dataclass(frozen=True)
class Guide:
    """A guide as a kiosk shows it: one entry of a verified release's catalog.json.

    The build (kiosk.content.build) writes that entry from a ``kiosk.content.source.
    SourceGuide``, the guide as written in the content folder. Here ``text`` is each
    language's rendered entry (title, summary and sections as text and HTML, audio, timings,
    sections gone stale), not the Markdown; ``icon`` is a path in the release
    (icons/<name>.svg), not an icon's name. Read only, frozen.
    """

    id: str
    icon: str
    order: int
    steps: list[str]
    dimensions: list[str]
    support: list[str]
    text: dict[str, dict]
    kind: str = "guide"  # "story": a person's own account (format 2)
    names_changed: bool = False


class Release:
    """One verified release folder, loaded into memory once."""

    def __init__(self, root: Path, version: int, expires: dt.datetime | None = None) -> None:
        self.root = root
        self.version = version
        self.expires = expires
        self.catalog = json.loads((root / "catalog.json").read_text(encoding="utf-8"))
        self.files = {
            entry["path"]
            for entry in json.loads((root / MANIFEST).read_text(encoding="utf-8"))["files"]
        }
        self.languages = {lang["tag"]: lang for lang in self.catalog["languages"]}
        self.reference = self.catalog["reference"]
        self.guides = [Guide(**g) for g in self.catalog["guides"]]
        self.guide_by_id = {g.id: g for g in self.guides}
        self._timings: dict[str, list] = {}
        self.pages: dict[tuple[str, str], str] = {}  # rendered pages, by channel and path
        # Search result pages: what visitors search for repeats, but any words can be asked
        # for, so these are the most recently asked only (kiosk.device.web.pages.search).
        self.searches: LRU[tuple, tuple[bool, str]] = LRU(512)
        self._words: dict[str, dict[str, Word]] = {}
        self._lock = threading.Lock()

    @cached_property
    def known_words(self) -> set[str]:
        """Every word the release uses, folded: what a search term may safely contain. The
        build lists them in the search index; an index made before that is read here."""
        listed = known_words(self.root / "search.db")
        return listed if listed is not None else catalog_words(self.catalog)

    def words(self, lang: str) -> dict[str, Word]:
        """Interface words in ``lang``; a word it lacks is the reference language's, marked."""
        if lang not in self._words:
            ref = self.languages[self.reference]
            own = self.catalog["ui"].get(lang, {})
            words = {
                k: Word(v, ref["tag"], ref["dir"])
                for k, v in self.catalog["ui"][ref["tag"]].items()
            }
            words.update({k: Word(v) for k, v in own.items()})
            self._words[lang] = words
        return self._words[lang]

    def ui_audio(self, lang: str) -> dict[str, str]:
        """Spoken interface words; a word shown in the reference language is said in it."""
        own = self.catalog["ui_audio"].get(lang, {})
        ui = self.catalog["ui"].get(lang, {})
        ref_ui = self.catalog["ui"][self.reference]
        ref = self.catalog["ui_audio"].get(self.reference, {})
        return {**{k: v for k, v in ref.items() if k in ref_ui and k not in ui}, **own}

    def guides_in(self, lang: str) -> list[Guide]:
        """The guides translated into ``lang``, in order."""
        return [g for g in self.guides if lang in g.text]

    @cached_property
    def contacts(self) -> list[dict]:
        return self.catalog["contacts"]

    def timings(self, path: str | None) -> list[list[int]]:
        """Sentence [start, end] pairs in ms for a guide track (cached)."""
        if not path:
            return []
        with self._lock:
            if path not in self._timings:
                data = json.loads((self.root / path).read_text(encoding="utf-8"))
                self._timings[path] = [[s["start"], s["end"]] for s in data["sentences"]]
            return self._timings[path]

    def path_of(self, rel: str) -> Path | None:
        """The file for a release-relative path, only if the signed manifest lists it."""
        return self.root / rel if rel in self.files else None


def is_stale(verified: str | None, today: dt.date | None = None) -> bool:
    if not verified:
        return True
    today = today or dt.date.today()
    return (today - dt.date.fromisoformat(verified)).days > STALE_AFTER_DAYS


def contact_in(contact: dict, lang: str, reference: str, ref_dir: str = "ltr") -> dict:
    """A contact as a reader of ``lang`` sees it: its name and opening hours in that language
    (the reference language's where there is no translation, marked so as a ``Word``)."""

    def text(field: str) -> Word:
        own = contact[field].get(lang)
        return Word(own) if own is not None else Word(contact[field][reference], reference, ref_dir)

    return {**contact, "name": text("organisation"), "open": text("hours")}


def contact_order(contact: dict) -> tuple:
    """Where a contact stands in a list: emergency numbers first, sample contacts last."""
    return (contact["example"], "emergency" not in contact["topics"], contact["name"])


class Library:
    """Follows the device's ``current`` release, verifying each one before it is shown."""

    def __init__(self, data_dir: str | os.PathLike[str], trusted: list[PublicKey]) -> None:
        self.store = ReleaseStore(data_dir)
        self.trusted = trusted
        self._release: Release | None = None
        self._target: str | None = None
        self._lock = threading.Lock()
        self.problem: str | None = None
        # Told the live release (or None) whenever it changes: the front server's folder.
        self.listeners: list[Callable[[Release | None], None]] = []
        self._told: object = object()  # what the listeners last heard (nothing yet)

    @classmethod
    def from_settings(cls, settings) -> Library:
        return cls(settings.data_dir, trusted_keys(settings))

    def release(self) -> Release:
        """The live release; raises ReleaseNotFound while there is none that verifies."""
        try:
            target = os.readlink(self.store.root / "current")
        except OSError:
            target = None
        if target == self._target and self._release is not None:
            expires = self._release.expires
            if expires is not None and dt.datetime.now(dt.UTC) >= expires:
                # Expired while being served: stop showing it, as activation would have refused.
                self.problem = f"The guides expired on {expires.date()}; install a newer release."
                with self._lock:
                    self._tell(None)
                raise ReleaseNotFound(self.problem)
            return self._release
        with self._lock:
            if target != self._target or self._release is None:
                self._load(target)
                self._tell(self._release)
        if self._release is None:
            raise ReleaseNotFound(self.problem or "No release is installed yet.")
        return self._release

    def _tell(self, release: Release | None) -> None:
        """Tell the listeners when what is live changed: not on every look while there is
        none (each look then loads again), nor on every request after it expired."""
        if release is self._told:
            return
        self._told = release
        for listener in self.listeners:
            try:
                listener(release)
            except OSError as exc:
                # The front server then finds no file and hands the request to the app.
                log.warning("could not publish the release's files for the front server: %s", exc)

    def _load(self, target: str | None) -> None:
        self._target = target
        self._release = None
        try:
            root = self.store.active()
            manifest = verify_release(root, self.trusted)
            self._release = Release(root, manifest.version, manifest.expires)
            self.problem = None
        except KioskError as exc:
            self.problem = exc.message
