"""Local notices: written, read aloud by the kiosk or in the librarian's own voice, removed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flask import (
    abort,
    redirect,
    request,
    send_file,
    url_for,
)

from kiosk.device.library import Release
from kiosk.device.web.admin import common
from kiosk.device.web.admin.dashboard import dashboard_page
from kiosk.errors import KioskError


@common.admin.post("/notices")
@common.login_required
def add_notice():
    release = common.live_release()
    text = common.clean_text(request.form.get("text", ""), common.MAX_NOTICE, newlines=True)
    lang = request.form.get("lang", "")
    try:
        start = dt.date.fromisoformat(request.form.get("start", ""))
        end = dt.date.fromisoformat(request.form.get("end", ""))
    except ValueError:
        start = end = None
    if text is None or lang not in release.languages or not start or not end or end < start:
        return dashboard_page(message="notice_invalid", status=400)
    voice = request.files.get("voice")
    spoken = voice.read() if voice is not None else b""
    pcm = None
    if spoken:
        from kiosk import audio

        try:
            pcm, _ = audio.level(spoken)
        except KioskError as exc:
            return dashboard_page(message=f"notice_voice_invalid:{exc.message}", status=400)
    notice_id = common.auth().add_notice(lang, text, start, end)
    if pcm is not None:
        _keep_voice(notice_id, pcm)
    else:
        _speak_notice(notice_id, lang, text, release)
    common.bump()
    return redirect(url_for("admin.dashboard", m="notice_added"), code=303)


NOTICE_UPLOAD = 16 * 1024 * 1024  # a minute of 48 kHz 16-bit WAV is 5.5 MB


def _keep_voice(notice_id: int, pcm: bytes) -> None:
    """The librarian's own reading of a notice, on this device only, removed with it."""
    from kiosk.speech import SAMPLE_RATE, encode_mp3

    folder = Path(common.kiosk_settings().data_dir) / "notices"
    folder.mkdir(parents=True, exist_ok=True)
    encode_mp3(pcm, folder / f"{notice_id}.mp3", common.kiosk_settings().mp3_bitrate)
    duration = len(pcm) // 2 * 1000 // SAMPLE_RATE
    (folder / f"{notice_id}.json").write_text(f'{{"duration_ms": {duration}, "voice": "person"}}')


def _speak_notice(notice_id: int, lang: str, text: str, release: Release) -> None:
    """Read the notice aloud once, with the device's own voice, into an MP3 beside it."""
    from kiosk.speech import Segment, Speaker
    from kiosk.text import split_sentences

    voice = release.languages[lang].get("voice")
    if not voice:
        return
    settings = common.kiosk_settings()
    folder = Path(settings.data_dir) / "notices"
    try:
        speaker = Speaker(folder / "cache", rate=settings.speech_rate, pitch=settings.speech_pitch)
        sentences = tuple(split_sentences(text.replace("\n", " "))) or (text,)
        track = speaker.render([Segment(sentences)], voice, folder / f"{notice_id}.mp3")
        (folder / f"{notice_id}.json").write_text(f'{{"duration_ms": {track.duration_ms}}}')
    except KioskError:
        pass  # the notice still shows as text


@common.admin.post("/notices/<int:notice_id>/remove")
@common.login_required
def remove_notice(notice_id: int):
    common.auth().remove_notice(notice_id)
    for suffix in (".mp3", ".json"):
        (Path(common.kiosk_settings().data_dir) / "notices" / f"{notice_id}{suffix}").unlink(
            missing_ok=True
        )
    common.bump()
    return redirect(url_for("admin.dashboard"), code=303)


def notice_audio(notice_id: int):
    path = Path(common.kiosk_settings().data_dir) / "notices" / f"{notice_id}.mp3"
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype="audio/mpeg", conditional=True, max_age=300)
