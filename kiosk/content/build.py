"""Build a release: validate → render HTML → speak → index → manifest → sign.

The release is written to a temporary folder beside OUT and renamed into place only when
complete, so a failed build leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from kiosk.content import recordings as recordings_mod
from kiosk.content.checks import PLACEHOLDER
from kiosk.content.markdown import SentenceCounter, render_blocks, render_inline
from kiosk.content.source import Content, SourceGuide, load_content
from kiosk.errors import ContentInvalid, KioskError, Problem
from kiosk.formats.manifest import VERSION_FORMAT, load_private_key, write_manifest
from kiosk.formats.search import build_index, catalog_words
from kiosk.speech import Segment, Speaker, Track

CATALOG = "catalog.json"
CATALOG_FORMAT = 2  # 2: a guide's text holds only the languages it is translated into


@dataclass
class BuildResult:
    out: Path
    version: int
    guides: int
    languages: int
    audio_ms: int
    tracks: int
    files: int
    bytes: int
    seconds: float
    warnings: list[Problem]


@dataclass
class _Job:
    path: str  # release-relative MP3 path
    voice: str | None
    segments: list[Segment]
    label: str
    on_done: Callable[[Track], None]


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    path.write_text(text + "\n", encoding="utf-8")


def render_guide(guide: SourceGuide, tag: str) -> tuple[dict, list[tuple[str, str]]]:
    """Render one translation; return its catalog entry and its sentences (section, text)."""
    parsed = guide.texts[tag]
    counter = SentenceCounter()
    counter.split(parsed.title, "intro")
    counter.split(parsed.summary, "intro")
    entry = {
        "title": " ".join(parsed.title.content.split()),
        "summary": " ".join(parsed.summary.content.split()),
        "title_html": render_inline(parsed.title),
        "summary_html": render_inline(parsed.summary),
        "sections": [],
    }
    for section in parsed.sections:
        first = len(counter.sentences)
        counter.split(section.heading, section.id)
        for tok in section.body:
            if tok.type == "inline":
                counter.split(tok, section.id)
        entry["sections"].append(
            {
                "id": section.id,
                "heading": " ".join(section.heading.content.split()),
                "heading_html": render_inline(section.heading),
                "html": render_blocks(section.body),
                "sentences": [first, len(counter.sentences) - 1],
            }
        )
    return entry, counter.sentences


def segments_of(
    sentences: list[tuple[str, str]],
    recordings: dict[str, Path],
    takes: dict[str, Path] | None = None,
) -> list[Segment]:
    """One segment per section: its sentences, a recording of the whole section if there is
    one, else a take of each sentence whose text has one (by the text's hash)."""
    takes = takes or {}
    segments: list[Segment] = []
    current: str | None = None
    for section, text in sentences:
        if section != current:
            segments.append(Segment((), recordings.get(section)))
            current = section
        last = segments[-1]
        take = None if last.recording else takes.get(recordings_mod.sentence_hash(text))
        segments[-1] = Segment((*last.sentences, text), last.recording, (*last.takes, take))
    if not any(t for s in segments for t in s.takes):
        segments = [Segment(s.sentences, s.recording) for s in segments]
    return segments


def takes_of(content: Content, guide, tag: str, sentences) -> dict[str, Path]:
    """The current takes of a guide's sentences; the build says which takes no longer fit."""
    gdir = content.root / "guides" / guide.id
    for path in recordings_mod.unused(gdir, tag, sentences):
        rel = path.relative_to(content.root)
        words = recordings_mod.words_of(path)
        content.warnings.append(
            Problem(
                f"{content.root.name}/{rel}",
                0,
                f"this recording reads text that has changed ({words!r}); the sentence is "
                "spoken by espeak-ng until it is recorded again (kiosk studio)",
                "warning",
            )
        )
    return recordings_mod.found(gdir, tag)


def _check_voices(content: Content, speaker: Speaker) -> None:
    problems = [
        Problem(
            f"{content.root.name}/languages.toml",
            0,
            f'{lang.tag}: espeak-ng has no voice {lang.voice!r}; install it or set voice = ""',
        )
        for lang in content.languages
        if lang.voice and not speaker.voice_exists(lang.voice)
    ]
    if problems:
        raise ContentInvalid(problems)


def build_release(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    key_path: str | os.PathLike[str],
    speaker: Speaker,
    version: int | None = None,
    expires_days: int = 365,
    workers: int = 2,
    now: dt.datetime | None = None,
    progress: Callable[[str], None] | None = None,
    portal_url: str = "http://10.42.0.1/",
    wifi_name: str = "Safe Migration Info",
) -> BuildResult:
    """Build the content at ``src`` into a signed release folder ``out``. ``portal_url`` and
    ``wifi_name`` are what the leaflets' QR codes and words point phones to."""
    started = time.monotonic()
    say = progress or (lambda _msg: None)
    now = now or dt.datetime.now(dt.UTC)
    out = Path(out)
    key = load_private_key(key_path)
    content = load_content(src, today=now.date())
    _check_voices(content, speaker)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise KioskError(f"{out} already exists and is not empty; choose a new folder.")
    stamp = int(now.astimezone(dt.UTC).strftime(VERSION_FORMAT))
    if version is None:
        version = stamp
    if not 0 < version <= stamp:
        # Kiosks refuse a version later than its release's creation: it would outrank every
        # release built after it. Said here, before minutes of speech are spent.
        raise KioskError(
            f"The release version must be a whole number from 1 up to the time now as "
            f"YYYYMMDDHHMMSS ({stamp})."
        )

    tmp = out.parent / f".{out.name}.building-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        leaflets = {"portal_url": portal_url, "wifi_name": wifi_name,
                    "cache": Path(speaker.cache) / "leaflets"}  # fmt: skip
        result = _build_into(tmp, content, speaker, workers, say, leaflets)
        write_manifest(tmp, version, now, now + dt.timedelta(days=expires_days), key)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    files = [p for p in out.rglob("*") if p.is_file()]
    return BuildResult(
        out=out,
        version=version,
        guides=len(content.guides),
        languages=len(content.languages),
        audio_ms=result["audio_ms"],
        tracks=result["tracks"],
        files=len(files),
        bytes=sum(p.stat().st_size for p in files),
        seconds=time.monotonic() - started,
        warnings=content.warnings,
    )


def index_passages(gid: str, lang: str, text: dict, sentences: list) -> list[dict]:
    """What the search index holds for one guide in one language: its intro, then sections."""
    found = [{"guide": gid, "lang": lang, "section": "intro", "title": text["title"],
              "summary": text["summary"]}]  # fmt: skip
    for section in text["sections"]:
        a, b = section["sentences"]
        body = " ".join(t for _, t in sentences[a + 1 : b + 1])
        found.append({"guide": gid, "lang": lang, "section": section["id"],
                      "heading": section["heading"], "body": body})  # fmt: skip
    return found


def _build_into(root: Path, content: Content, speaker: Speaker, workers, say, leaflets) -> dict:
    voices = {lang.tag: (lang.voice or None) for lang in content.languages}
    jobs: list[_Job] = []
    passages: list[dict] = []
    guides_out: list[dict] = []

    for guide in sorted(content.guides, key=lambda g: (g.order, g.id)):
        icon = f"icons/{guide.icon}.svg"
        entry = {
            "id": guide.id,
            "icon": icon,
            "order": guide.order,
            "kind": guide.kind,
            "names_changed": guide.names_changed,
            "steps": guide.steps,
            "dimensions": guide.dimensions,
            "support": guide.support,
            "text": {},
        }
        for lang in content.languages:
            if lang.tag not in guide.texts:
                continue  # not translated yet: shown in the languages it has
            text, sentences = render_guide(guide, lang.tag)
            text["stale"] = guide.stale.get(lang.tag) or []
            recordings = {sec: p for (tag, sec), p in guide.recordings.items() if tag == lang.tag}
            takes = takes_of(content, guide, lang.tag, sentences)
            segments = segments_of(sentences, recordings, takes)
            if guide.kind == "story" and not all(
                s.recording or (s.takes and all(s.takes)) for s in segments
            ):
                content.warnings.append(
                    Problem(
                        f"{content.root.name}/guides/{guide.id}/{lang.tag}.md",
                        0,
                        "this story is not all recorded, so espeak-ng reads some of it; a "
                        "story is heard best in a person's voice (kiosk studio)",
                        "warning",
                    )
                )
            text.update(audio=None, timings=None, duration_ms=0, recorded=sorted(recordings))
            entry["text"][lang.tag] = text
            passages += index_passages(guide.id, lang.tag, text, sentences)
            if voices[lang.tag] or all(s.recording or (s.takes and all(s.takes)) for s in segments):
                mp3 = f"audio/guides/{guide.id}/{lang.tag}.mp3"
                timings = f"audio/guides/{guide.id}/{lang.tag}.json"

                def done(track: Track, text=text, sentences=sentences, mp3=mp3, timings=timings):
                    _write_json(
                        root / timings,
                        {
                            "duration_ms": track.duration_ms,
                            "sentences": [
                                {"i": i, "section": sec, "start": s, "end": e, "text": t}
                                for i, ((sec, t), (s, e)) in enumerate(
                                    zip(sentences, track.spans, strict=True)
                                )
                            ],
                        },
                    )
                    text.update(audio=mp3, timings=timings, duration_ms=track.duration_ms)

                jobs.append(_Job(mp3, voices[lang.tag], segments, f"{guide.id} · {lang.tag}", done))
        guides_out.append(entry)

    ui_audio: dict[str, dict[str, str]] = {lang.tag: {} for lang in content.languages}
    prompts_ms = {"total": 0}
    for lang in content.languages:
        words = dict(content.ui[lang.tag])
        words["language_name"] = lang.name
        for word_key, text in sorted(words.items()):
            recording = content.ui_recordings.get((lang.tag, word_key))
            if word_key.startswith("admin.") or PLACEHOLDER.search(text):
                continue  # the librarian reads these; "{query}" cannot be said in advance
            if not (voices[lang.tag] or recording):
                continue
            mp3 = f"audio/ui/{lang.tag}/{word_key}.mp3"

            def done(track: Track, tag=lang.tag, word_key=word_key, mp3=mp3):
                ui_audio[tag][word_key] = mp3
                prompts_ms["total"] += track.duration_ms

            jobs.append(_Job(mp3, voices[lang.tag], [Segment((text,), recording)], "", done))

    audio_ms = 0
    guide_jobs = sum(1 for j in jobs if j.label)
    finished = 0
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {
            pool.submit(speaker.render, job.segments, job.voice, root / job.path): job
            for job in jobs
        }
        (root / "audio").mkdir(exist_ok=True)
        for future in as_completed(futures):
            job = futures[future]
            track = future.result()
            job.on_done(track)
            if job.label:
                finished += 1
                audio_ms += track.duration_ms
                say(
                    f"[{finished}/{guide_jobs}] {job.label}: {track.duration_ms / 1000:.0f} s "
                    f"of audio (total {audio_ms / 1000:.0f} s)"
                )
    audio_ms += prompts_ms["total"]
    say(f"interface words: {sum(len(v) for v in ui_audio.values())} spoken prompts")

    (root / "icons").mkdir()
    used = {g.icon for g in content.guides} | ({"help"} & set(content.icons))
    for name in sorted(used):
        shutil.copyfile(content.icons[name], root / "icons" / f"{name}.svg")

    started = time.monotonic()
    drawn, printed = _draw_leaflets(root, content, guides_out, leaflets)
    say(f"leaflets: {drawn} PDFs ({printed} printed, {drawn - printed} from the cache) in "
        f"{time.monotonic() - started:.1f} s")  # fmt: skip

    catalog = {
        "format": CATALOG_FORMAT,
        "reference": content.reference,
        "languages": [
            {
                "tag": lang.tag,
                "name": lang.name,
                "dir": lang.dir,
                "voice": lang.voice,
                "speech": bool(lang.voice),
            }
            for lang in content.languages
        ],
        "ui": content.ui,
        "ui_audio": ui_audio,
        "guides": guides_out,
        "contacts": content.contacts,
        "help_icon": "icons/help.svg" if "help" in used else None,
    }
    _write_json(root / CATALOG, catalog)
    n = build_index(root / "search.db", passages, catalog_words(catalog))
    say(f"search index: {n} passages")
    return {"audio_ms": audio_ms, "tracks": len(jobs)}


def _draw_leaflets(
    root: Path, content: Content, guides: list[dict], options: dict
) -> tuple[int, int]:
    """Every guide in every language on paper (A4 and A5); each text learns its leaflets."""
    from kiosk.content.leaflet import Leaflets, help_lines

    def draw_all() -> tuple[int, int]:
        drawn = 0
        with Leaflets(root, **options) as leaflets:
            for lang in content.languages:
                tag = lang.tag
                language = {"tag": tag, "dir": lang.dir}
                contacts = help_lines(content.contacts, tag, content.reference)
                words = {**content.ui[content.reference], **content.ui[tag]}
                for guide in guides:
                    if tag not in guide["text"]:
                        continue
                    written = leaflets.draw(guide, language, words, contacts)
                    guide["text"][tag]["leaflets"] = written
                    drawn += len(written)
        return drawn, leaflets.printed

    # In a thread of its own: Playwright's browser cannot start in a thread that already runs
    # an event loop (a caller's own browser, or an async program building a release).
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(draw_all).result()
