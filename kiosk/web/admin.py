"""The librarian's page: signed in on the kiosk's own screen (or, if allowed, from a phone).

Sessions live in memory only (admin_sessions.py); the session id is renewed at sign-in and
forgotten at sign-out, after ``admin_idle_minutes`` of quiet (on the kiosk's own screen: after
``idle_seconds``, when the screen starts over) and ``admin_session_hours`` after sign-in. Every
POST carries the session's CSRF token and, when the browser says where it comes from, must come
from this kiosk (Origin). Every response is no-store. From the hotspot, every admin URL and
method is the same 404 as an unknown page unless ``admin_over_hotspot`` is on.
"""

from __future__ import annotations

import csv
import datetime as dt
import hmac
import io
import re
import threading
import time
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from kiosk.admin import MIN_PASSWORD, MOUNTS_FILE, Auth, Throttled, mounted_sticks, strip_bidi
from kiosk.config import write_device_settings
from kiosk.device import health
from kiosk.errors import KioskError
from kiosk.library import Release
from kiosk.releases.install import ReleaseStore
from kiosk.releases.manifest import trusted_keys
from kiosk.stats import csv_rows, totals
from kiosk.sync.stick import save_on_stick
from kiosk.vocabulary import LOOPBACK
from kiosk.web.admin_sessions import AdminSession, Sessions

COOKIE = "admin"
MAX_NOTICE = 1000
# Seconds a screen session outlives the screen's own idle reset: kiosk.js says "still here" at
# most every 5 s while the librarian touches the page, so the server never ends it first.
SCREEN_GRACE = 8
PERIODS = {"today": 1, "week": 7, "month": 30}
STARTED = time.monotonic()

admin = Blueprint("admin", __name__, url_prefix="/admin")
FALLBACK_WORDS = tomllib.loads(
    (Path(__file__).with_name("admin_words.toml")).read_text(encoding="utf-8")
)["admin"]


def _settings():
    return current_app.extensions["kiosk.settings"]


def _auth() -> Auth:
    return current_app.extensions["kiosk.auth"]


def _sessions() -> Sessions:
    return current_app.extensions["kiosk.admin_sessions"]


def _source() -> str:
    return "screen" if request.remote_addr in LOOPBACK else "hotspot"


def _idle_limit(source: str) -> float:
    """Seconds of quiet that end a session: on the screen, the screen's own idle reset."""
    settings = _settings()
    if source == "screen":
        # Holds even when the page's script fails: the next person at the screen finds the
        # dashboard, but every click on it asks for the password again.
        return settings.idle_seconds + SCREEN_GRACE
    return settings.admin_idle_minutes * 60


@admin.before_request
def guard():
    source = _source()
    g.channel = "screen" if source == "screen" else "phone"
    if source == "hotspot" and not _settings().admin_over_hotspot:
        abort(404)
    g.admin = _sessions().get(request.cookies.get(COOKIE), source, _idle_limit(source))
    if request.method == "POST":
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            abort(403)
        sent = request.form.get("csrf", "")
        if g.admin is None or not hmac.compare_digest(sent.encode(), g.admin.csrf.encode()):
            abort(403)


@admin.after_request
def never_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _cookie(response: Response, session: AdminSession) -> Response:
    response.set_cookie(COOKIE, session.token, httponly=True, samesite="Strict", path="/admin")
    return response


def _release() -> Release | None:
    try:
        return current_app.extensions["kiosk.library"].release()
    except KioskError:
        return None


def _page(template: str, status: int = 200, **extra):
    from kiosk.web.pages import _context

    release = _release()
    if release is None:
        return Response("No guides are installed; the librarian's page needs them.", 503)
    lang = g.admin.lang if g.admin else release.reference
    ctx = _context(release, lang, **extra)
    words = ctx["words"]
    ctx.update(
        a=lambda key: words.get(f"admin.{key}") or FALLBACK_WORDS.get(key, key),
        csrf=g.admin.csrf if g.admin else "",
        languages=release.languages,
    )
    response = Response(render_template(template, **ctx), status=status, mimetype="text/html")
    return response


def _signed_in() -> bool:
    return g.admin is not None and g.admin.signed_in


# ---------------------------------------------------------------- sign in and out


@admin.get("/")
def home():
    if not _signed_in():
        if g.admin is None:
            g.admin = _sessions().new(_source(), _lang_choice())
        session = g.admin
        message = request.args.get("m", "")
        page = _page(
            "admin/sign_in.html",
            no_password=not _auth().has_password(),
            message=message if message in ("wrong", "throttled", "expired") else "",
        )
        return _cookie(page, session)
    return _dashboard()


def _lang_choice() -> str:
    release = _release()
    lang = request.args.get("lang", "")
    if release is not None and lang in release.languages:
        return lang
    return release.reference if release else "en"


@admin.post("/sign-in")
def sign_in():
    user = request.form.get("user", "")[:200]
    password = request.form.get("password", "")[:1000]
    try:
        ok = _auth().check(user, password, _source())
    except Throttled:
        return redirect(url_for("admin.home", m="throttled"), code=303)
    if not ok:
        return redirect(url_for("admin.home", m="wrong"), code=303)
    _sessions().end(g.admin.token)  # a new id at sign-in: a planted one is worthless
    session = _sessions().new(_source(), g.admin.lang, signed_in=True)
    return _cookie(redirect(url_for("admin.home"), code=303), session)


@admin.post("/sign-out")
def sign_out():
    _sessions().end(g.admin.token)
    response = redirect(url_for("admin.home"), code=303)
    response.delete_cookie(COOKIE, path="/admin", httponly=True, samesite="Strict")
    return response


@admin.post("/language")
def language():
    release = _release()
    lang = request.form.get("lang", "")
    if release is not None and lang in release.languages:
        g.admin.lang = lang
    return redirect(url_for("admin.home"), code=303)


@admin.get("/alive")
def alive():
    """The screen's page says the librarian is still touching it (the guard noted the time)."""
    return Response(status=204)


def _need_sign_in():
    if not _signed_in():
        abort(redirect(url_for("admin.home", m="expired"), code=303))


# ---------------------------------------------------------------- the dashboard


def _dashboard(message: str = "", status: int = 200):
    settings = _settings()
    period = request.args.get("period", "today")
    period = period if period in PERIODS else "today"
    db = current_app.extensions["kiosk.usage"].path
    figures = totals(db, PERIODS[period], settings.k_anonymity) if db.exists() else None
    release = _release()
    store = ReleaseStore(settings.data_dir)
    manifest = _manifest_dates(store)
    usage = current_app.extensions["kiosk.usage"]
    state = {
        "release": store.current_version,
        "created": manifest[0],
        "expires": manifest[1],
        "previous": store.previous_version,
        "disk_free": health.disk_free(settings.data_dir),
        "temperature": health.cpu_temperature(),
        "throttled": health.throttled(),
        "uptime": health.uptime_seconds(),
        "phones": len(current_app.extensions["kiosk.online"]),
        "usage": usage.health(),
        "last_sync": _last_sync(settings.data_dir),
        "sticks": _sticks(),
    }
    if manifest[0]:
        state["age_days"] = (dt.date.today() - dt.date.fromisoformat(manifest[0])).days
    titles = {g_.id: g_.text[release.reference]["title"] for g_ in release.guides}
    top_guides, language_bars, hour_bars = [], [], []
    if figures:
        top_guides = [(titles.get(gid, gid), n) for gid, n in figures["guides"].most_common(9)]
        names = {tag: lang["name"] for tag, lang in release.languages.items()}
        language_bars = [(names.get(t, t), n) for t, n in figures["languages"].most_common()]
        hour_bars = [(f"{h:02d}:00", n) for h, n in sorted(figures["hours"].most_common(6))]
    notices = _auth().notices()
    return _page(
        "admin/dashboard.html",
        status=status,
        period=period,
        figures=figures,
        state=state,
        notices=notices,
        settings=settings,
        message=message,
        today=dt.date.today(),
        top_guides=top_guides,
        language_bars=language_bars,
        hour_bars=hour_bars,
    )


def _manifest_dates(store: ReleaseStore):
    import json

    try:
        data = json.loads((store.active() / "manifest.json").read_text())
        return data["created"][:10], data["expires"][:10]
    except (KioskError, OSError, ValueError, KeyError):
        return None, None


def _last_sync(data_dir) -> str | None:
    import json

    try:
        return json.loads((Path(data_dir) / "sync-state.json").read_text()).get("summary")
    except (OSError, ValueError, AttributeError):
        return None


MESSAGES = ("notice_added", "saved")


@admin.get("/dashboard")
def dashboard():
    _need_sign_in()
    message = request.args.get("m", "")
    return _dashboard(message=message if message in MESSAGES else "")


# ---------------------------------------------------------------- notices


def _clean(text: str, limit: int, newlines: bool) -> str | None:
    """Text a librarian typed, or None when it cannot be used (control characters, size)."""
    if newlines:  # a notice: shown on screen and read aloud, which must say the same thing
        text = strip_bidi(text)
    text = text.replace("\r\n", "\n").strip()
    allowed = "\n" if newlines else ""
    if not text or len(text) > limit or any(ord(c) < 32 and c not in allowed for c in text):
        return None
    return text


@admin.post("/notices")
def add_notice():
    _need_sign_in()
    release = _release()
    text = _clean(request.form.get("text", ""), MAX_NOTICE, newlines=True)
    lang = request.form.get("lang", "")
    try:
        start = dt.date.fromisoformat(request.form.get("start", ""))
        end = dt.date.fromisoformat(request.form.get("end", ""))
    except ValueError:
        start = end = None
    if text is None or lang not in release.languages or not start or not end or end < start:
        return _dashboard(message="notice_invalid", status=400)
    voice = request.files.get("voice")
    spoken = voice.read() if voice is not None else b""
    pcm = None
    if spoken:
        from kiosk import audio

        try:
            pcm, _ = audio.level(spoken)
        except KioskError as exc:
            return _dashboard(message=f"notice_voice_invalid:{exc.message}", status=400)
    notice_id = _auth().add_notice(lang, text, start, end)
    if pcm is not None:
        _keep_voice(notice_id, pcm)
    else:
        _speak_notice(notice_id, lang, text, release)
    _bump()
    return redirect(url_for("admin.dashboard", m="notice_added"), code=303)


NOTICE_UPLOAD = 16 * 1024 * 1024  # a minute of 48 kHz 16-bit WAV is 5.5 MB


def _keep_voice(notice_id: int, pcm: bytes) -> None:
    """The librarian's own reading of a notice, on this device only, removed with it."""
    from kiosk.speech import SAMPLE_RATE, encode_mp3

    folder = Path(_settings().data_dir) / "notices"
    folder.mkdir(parents=True, exist_ok=True)
    encode_mp3(pcm, folder / f"{notice_id}.mp3", _settings().mp3_bitrate)
    duration = len(pcm) // 2 * 1000 // SAMPLE_RATE
    (folder / f"{notice_id}.json").write_text(f'{{"duration_ms": {duration}, "voice": "person"}}')


def _speak_notice(notice_id: int, lang: str, text: str, release: Release) -> None:
    """Read the notice aloud once, with the device's own voice, into an MP3 beside it."""
    from kiosk.speech import Segment, Speaker
    from kiosk.text import split_sentences

    voice = release.languages[lang].get("voice")
    if not voice:
        return
    settings = _settings()
    folder = Path(settings.data_dir) / "notices"
    try:
        speaker = Speaker(folder / "cache", rate=settings.speech_rate, pitch=settings.speech_pitch)
        sentences = tuple(split_sentences(text.replace("\n", " "))) or (text,)
        track = speaker.render([Segment(sentences)], voice, folder / f"{notice_id}.mp3")
        (folder / f"{notice_id}.json").write_text(f'{{"duration_ms": {track.duration_ms}}}')
    except KioskError:
        pass  # the notice still shows as text


def notice_duration(data_dir, notice_id: int) -> int | None:
    """How long a notice's recording is, in ms, or None when it has none."""
    import json

    try:
        path = Path(data_dir) / "notices" / f"{notice_id}.json"
        return int(json.loads(path.read_text())["duration_ms"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


@admin.post("/notices/<int:notice_id>/remove")
def remove_notice(notice_id: int):
    _need_sign_in()
    _auth().remove_notice(notice_id)
    for suffix in (".mp3", ".json"):
        (Path(_settings().data_dir) / "notices" / f"{notice_id}{suffix}").unlink(missing_ok=True)
    _bump()
    return redirect(url_for("admin.dashboard"), code=303)


def _bump() -> None:
    """Notices or settings changed: pages kept with the release must be drawn again."""
    release = _release()
    if release is not None:
        release.pages.clear()
    for redraw in current_app.extensions.get("kiosk.pages_changed", []):
        redraw()  # the front server's copies (kiosk.web.front.Pages)


# ---------------------------------------------------------------- releases and figures


def _sticks() -> list[str]:
    return mounted_sticks(_settings().usb_root, current_app.config["MOUNTS_FILE"])


def _chosen_stick() -> Path:
    """The mounted stick the form chose, or the dashboard with one sentence (400).

    The form sends a name from the list the page offered; it is compared with the sticks
    mounted now and never used as a path itself, so no typed value can reach the file system.
    """
    sticks = _sticks()
    name = request.form.get("stick", "")
    if name not in sticks:
        abort(_dashboard(message="usb_unknown" if sticks else "usb_none", status=400))
    return Path(_settings().usb_root) / name


@admin.post("/usb-install")
def usb_install():
    _need_sign_in()
    settings = _settings()
    path = _chosen_stick()
    source = path if (path / "manifest.json").exists() else path / "release"
    try:
        trusted = trusted_keys(settings)
        manifest = ReleaseStore(settings.data_dir).install(source, trusted)
    except KioskError as exc:
        return _dashboard(message=exc.message, status=400)
    return _dashboard(message=f"installed:{manifest.version}")


@admin.post("/rollback")
def rollback():
    _need_sign_in()
    settings = _settings()
    try:
        trusted = trusted_keys(settings)
        ReleaseStore(settings.data_dir).rollback(trusted)
    except KioskError as exc:
        return _dashboard(message=exc.message, status=400)
    return _dashboard(message="rolled_back")


_sync_lock = threading.Lock()


@admin.post("/sync")
def sync_now():
    """Start a sync with headquarters in the background; the page never waits for it."""
    _need_sign_in()
    settings = _settings()
    if not settings.hq_host:
        return _dashboard(message="no_hq", status=400)
    if not _sync_lock.acquire(blocking=False):
        return _dashboard(message="sync_running")
    trusted = trusted_keys(settings)

    def run() -> None:
        from kiosk import sync as syncing

        try:
            syncing.run(settings, trusted)  # the lock every sync shares; it records the outcome
        except KioskError:
            pass  # recorded in sync-state.json, which the dashboard shows; busy: the other sync
        finally:
            _sync_lock.release()

    thread = threading.Thread(target=run, name="sync-now", daemon=True)
    current_app.extensions["kiosk.sync_thread"] = thread
    thread.start()
    return _dashboard(message="sync_started")


def _csv_bytes() -> bytes:
    db = current_app.extensions["kiosk.usage"].path
    out = io.StringIO()
    writer = csv.writer(out)
    for row in csv_rows(db, 366):
        writer.writerow(row)
    return out.getvalue().encode("utf-8")


@admin.get("/export.csv")
def export():
    _need_sign_in()
    name = f"usage-{_safe(_settings().device_name)}-{dt.date.today().isoformat()}.csv"
    return send_file(
        io.BytesIO(_csv_bytes()), mimetype="text/csv", as_attachment=True, download_name=name
    )


@admin.post("/export-to-stick")
def export_to_stick():
    _need_sign_in()
    settings = _settings()
    folder = _chosen_stick()
    name = f"usage-{_safe(settings.device_name)}-{dt.date.today().isoformat()}.csv"
    try:
        save_on_stick(folder, [], {name: _csv_bytes()}, what="the usage CSV")  # no links
    except OSError:
        return _dashboard(message="usb_write_failed", status=400)
    return _dashboard(message="exported")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", name)[:40] or "kiosk"


# ---------------------------------------------------------------- settings


@admin.post("/settings")
def save_settings():
    _need_sign_in()
    release = _release()
    form = request.form
    ssid = _clean(form.get("wifi_ssid", ""), 32, newlines=False)
    try:
        idle = int(form.get("idle_seconds", ""))
        k = int(form.get("k_anonymity", ""))
    except ValueError:
        idle = k = -1
    order = [t for t in form.get("language_order", "").replace(",", " ").split() if t]
    if (
        ssid is None
        or not 15 <= idle <= 3600
        or not 2 <= k <= 100
        or len(order) != len(set(order))
        or any(t not in release.languages for t in order)
    ):
        return _dashboard(message="invalid_setting", status=400)
    changes = {
        "wifi_ssid": ssid,
        "idle_seconds": idle,
        "k_anonymity": k,
        "language_order": order,
        "admin_over_hotspot": form.get("admin_over_hotspot") == "on",
    }
    settings = _settings()
    write_device_settings(settings.data_dir, changes)
    current_app.extensions["kiosk.settings"] = settings.replace(**changes)
    current_app.extensions["kiosk.usage"].k = k
    _bump()
    return redirect(url_for("admin.dashboard", m="saved"), code=303)


# ---------------------------------------------------------------- the public side


def notice_audio(notice_id: int):
    path = Path(_settings().data_dir) / "notices" / f"{notice_id}.mp3"
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype="audio/mpeg", conditional=True, max_age=300)


def _hidden_from_phones() -> None:
    """Phones get an unknown page's 404 for every /admin path and method, when not allowed.

    This runs before routing answers, which would otherwise tell a phone that the page exists
    (308 from /admin to /admin/, 405 for a GET of /admin/sign-in).
    """
    path = request.path
    if path != "/admin" and not path.startswith("/admin/"):
        return
    if _source() == "hotspot" and not _settings().admin_over_hotspot:
        abort(404)


def install(app: Flask) -> None:
    settings = app.extensions["kiosk.settings"]
    app.before_request(_hidden_from_phones)
    app.config.setdefault("MOUNTS_FILE", MOUNTS_FILE)  # tests name their own
    app.extensions["kiosk.auth"] = Auth(settings.data_dir)
    app.extensions["kiosk.admin_sessions"] = Sessions(
        settings.admin_idle_minutes * 60, settings.admin_session_hours * 3600
    )
    app.register_blueprint(admin)
    app.add_url_rule("/notice/<int:notice_id>.mp3", "notice_audio", notice_audio)
    # A notice may carry the librarian's own reading (a WAV from the page's recorder).
    app.config.setdefault("KIOSK_UPLOADS", {})["admin.add_notice"] = NOTICE_UPLOAD


__all__ = ["MIN_PASSWORD", "install"]
