"""The studio's pages: progress, one sentence, and the take that is sent for it."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, abort, jsonify, redirect, render_template, request, send_file, url_for

from kiosk import audio
from kiosk.content import recordings
from kiosk.content.build import render_guide
from kiosk.content.checks import PLACEHOLDER
from kiosk.content.source import Content, load_content
from kiosk.errors import KioskError
from kiosk.vocabulary import LOOPBACK

CHARS_PER_SECOND = 14  # how long a sentence takes to read, where no voice can tell


def create_studio(content_root: str | Path, speaker=None) -> Flask:
    """The studio for the content folder at ``content_root``; ``speaker`` (optional) says
    how long espeak-ng takes over a sentence, to warn about a take far shorter or longer."""
    root = Path(content_root).resolve()
    app = Flask(__name__, static_folder="static")
    app.config.update(MAX_CONTENT_LENGTH=audio.MAX_BYTES + 64 * 1024, TEMPLATES_AUTO_RELOAD=False)
    logging.getLogger("werkzeug").disabled = True

    def content() -> Content:
        return load_content(root)  # read again each time: the translator may be editing

    def words_of(loaded: Content, lang: str) -> dict[str, str]:
        """The interface words said in advance (not the librarian's, not those with a
        {placeholder} filled in on the page)."""
        return {k: v for k, v in loaded.ui.get(lang, {}).items()
                if not k.startswith("admin.") and not PLACEHOLDER.search(v)}  # fmt: skip

    def spoken(loaded: Content, lang: str, gid: str) -> tuple[list, list]:
        """The sentences (or words) to record, and the guide's spoken text they come from."""
        if gid == recordings.WORDS:
            if lang not in loaded.ui:
                abort(404)
            return recordings.ui_words(root, lang, words_of(loaded, lang)), []
        guide = next((g for g in loaded.guides if g.id == gid), None)
        if guide is None or lang not in guide.texts:
            abort(404)
        _, said = render_guide(guide, lang)
        return recordings.sentences(root / "guides" / gid, lang, said), said

    def expected(loaded: Content, lang: str, text: str) -> float:
        voice = next((x.voice for x in loaded.languages if x.tag == lang), "")
        if speaker is not None and voice:
            try:
                return len(speaker.pcm(text, voice)) / 2 / audio.SAMPLE_RATE
            except KioskError:
                pass
        return max(1.0, len(text) / CHARS_PER_SECOND)

    @app.before_request
    def only_this_computer():
        # Loopback only, and only by its own name: a page on the internet cannot reach the
        # studio through a name that points here (DNS rebinding), nor post to it.
        host = (request.host or "").rsplit(":", 1)[0].strip("[]")
        if request.remote_addr not in LOOPBACK or host not in ("127.0.0.1", "localhost", "::1"):
            abort(403)
        origin = request.headers.get("Origin")
        if request.method == "POST" and origin and urlsplit(origin).netloc != request.host:
            abort(403)

    @app.after_request
    def headers(response):
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; media-src 'self' blob:; style-src 'self'; img-src 'self' data:"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @app.get("/")
    def index():
        loaded = content()
        rows = []
        for guide in sorted(loaded.guides, key=lambda g: (g.order, g.id)):
            cells = {}
            for lang in loaded.languages:
                if lang.tag not in guide.texts:
                    continue
                _, said = render_guide(guide, lang.tag)
                found = recordings.sentences(root / "guides" / guide.id, lang.tag, said)
                cells[lang.tag] = {
                    "total": len(found),
                    "recorded": sum(1 for s in found if s.recording),
                    "stale": sum(1 for s in found if s.stale),
                }
            title = " ".join(guide.texts[loaded.reference].title.content.split())
            rows.append({"id": guide.id, "title": title, "cells": cells})
        cells = {}
        for lang in loaded.languages:
            found = recordings.ui_words(root, lang.tag, words_of(loaded, lang.tag))
            cells[lang.tag] = {
                "total": len(found),
                "recorded": sum(1 for s in found if s.recording),
                "stale": sum(1 for s in found if s.stale),
            }
        rows.append({"id": recordings.WORDS, "title": "Interface words", "cells": cells})
        return render_template("index.html", languages=loaded.languages, rows=rows)

    @app.get("/<lang>/<gid>")
    def sentence_page(lang: str, gid: str):
        loaded = content()
        found, _ = spoken(loaded, lang, gid)
        default = next((s.index for s in found if not s.recording), 0)
        i = request.args.get("i", default, type=int)
        if not 0 <= i < len(found):
            abort(404)
        language = next(x for x in loaded.languages if x.tag == lang)
        return render_template(
            "sentence.html",
            lang=language,
            gid=gid,
            found=found,
            here=found[i],
            before=found[i - 1] if i else None,
            after=found[i + 1] if i + 1 < len(found) else None,
            done=sum(1 for s in found if s.recording),
            warnings=request.args.getlist("warning"),
            problem=request.args.get("problem"),
        )

    @app.post("/<lang>/<gid>/<int:i>")
    def take(lang: str, gid: str, i: int):
        loaded = content()
        found, said = spoken(loaded, lang, gid)
        if not 0 <= i < len(found):
            return _answer(
                lang, gid, 0, problem="There is no such sentence in this guide.", code=404
            )
        upload = request.files.get("take")
        data = upload.read() if upload is not None else request.get_data()
        try:
            take = audio.prepare(data, expected(loaded, lang, found[i].text))
        except KioskError as exc:
            return _answer(lang, gid, i, problem=exc.message, code=400)
        if gid == recordings.WORDS:
            recordings.save_word(root, lang, found[i], take.flac)
        else:
            recordings.save(root / "guides" / gid, lang, found[i], take.flac, said)
        return _answer(lang, gid, i, warnings=take.warnings, seconds=take.seconds, lufs=take.lufs)

    @app.post("/<lang>/<gid>/<int:i>/remove")
    def remove(lang: str, gid: str, i: int):
        found, _ = spoken(content(), lang, gid)
        if not 0 <= i < len(found):
            abort(404)
        if found[i].recording is not None:
            recordings.remove(found[i].recording)
        return redirect(url_for("sentence_page", lang=lang, gid=gid, i=i))

    @app.get("/<lang>/<gid>/<int:i>/take.flac")
    def listen(lang: str, gid: str, i: int):
        found, _ = spoken(content(), lang, gid)
        if not 0 <= i < len(found) or found[i].recording is None:
            abort(404)
        return send_file(found[i].recording, mimetype="audio/flac", max_age=0)

    def _answer(lang, gid, i, problem=None, warnings=(), code=200, **figures):
        if request.accept_mimetypes.best == "application/json":
            body = {"ok": problem is None, "problem": problem, "warnings": list(warnings)}
            return jsonify({**body, **figures}), code
        args = {"i": i, "warning": list(warnings)}
        if problem:
            args["problem"] = problem
        return redirect(url_for("sentence_page", lang=lang, gid=gid, **args))

    return app
