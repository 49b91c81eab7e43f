"""The guide site, for phones (``/``) and for the touchscreen (``/screen/``).

Both channels share every page; the screen adds bigger targets, QR codes and an idle reset.
The visitor's language lives in the URL. The only cookie is a random visit token
(kiosk.device.web.counting) that lives in the server's memory and is never written anywhere. What
every page shares (the blueprint, the live release, the page frame) is in kiosk.device.web.common;
the files sent as they are, in kiosk.device.web.files.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache, wraps
from urllib.parse import quote

import segno
from flask import (
    Flask,
    Response,
    abort,
    g,
    render_template,
    request,
    send_file,
    url_for,
)
from markupsafe import Markup, escape

from kiosk.device.admin import notice_duration
from kiosk.device.library import Release, contact_in, contact_order, is_stale
from kiosk.device.web.common import (
    guide_or_404,
    language_or_404,
    library,
    page_context,
    release_or_503,
    settings,
    site,
)
from kiosk.device.web.files import favicon, media, static_file
from kiosk.device.web.state import current_kiosk
from kiosk.errors import ReleaseNotFound
from kiosk.formats.search import search as search_index
from kiosk.vocabulary import STEPS

LOCAL_LINK = re.compile(r'<a href="(?!https?:|tel:|mailto:)[^"]*"[^>]*>(.*?)</a>', re.S)


@lru_cache(maxsize=256)
def qr_svg(data: str) -> Markup:
    # No fixed size (a viewBox only): each page's CSS gives the code its size on screen.
    # make_qr, never make: a short text (a phone number) would otherwise become a Micro QR
    # code, which phone cameras do not read.
    code = segno.make_qr(data, error="m")
    svg = code.svg_inline(scale=4, dark="#1d3557", border=2, omitsize=True)
    return Markup(svg)  # noqa: S704 - segno draws paths only; the data is not in the markup


# ---------------------------------------------------------------- pages


def cached(view):
    """Keep a page's HTML with its release: it depends on nothing but the release and URL."""

    @wraps(view)
    def wrapper(**kwargs):
        release = release_or_503()
        # Notices come and go by date, so a page is kept for the day it was drawn on.
        key = (request.blueprint, request.path, request.args.get("thanks") == "1", dt.date.today())
        html = release.pages.get(key)
        if html is None:
            html = view(**kwargs)
            if len(release.pages) < 2048:
                release.pages[key] = html
        return html

    return wrapper


@site.get("/")
@cached
def languages():
    release = release_or_503()
    ordered = list(release.languages.values())
    if g.channel == "screen":
        order = [t for t in settings().language_order if t in release.languages]
        ordered = [release.languages[t] for t in order] + [
            lang for lang in ordered if lang["tag"] not in order
        ]
    return render_template("languages.html", **page_context(release, None, ordered=ordered))


@site.get("/attract")
def attract():
    """While nobody is near (touchscreen): guide titles in each language, the Wi-Fi QR code."""
    if g.channel != "screen":
        abort(404)
    release = release_or_503()
    slides = [
        {
            "lang": tag,
            "dir": lang["dir"],
            "name": release.words(tag)["kiosk_name"],
            "touch": release.words(tag)["welcome"],
            "join": release.words(tag)["join_wifi"],
            "titles": [g_.text[tag]["title"] for g_ in release.guides_in(tag)],
            "invite": (
                lambda rel: url_for("media", version=release.version, rel=rel) if rel else ""
            )(release.ui_audio(tag).get("welcome")),
        }
        for tag, lang in release.languages.items()
    ]
    return render_template(
        "attract.html",
        **page_context(
            release,
            None,
            slides=slides,
            wifi_qr=qr_svg(f"WIFI:S:{wifi_escape(settings().wifi_ssid)};T:nopass;;"),
            invite_minutes=settings().invite_minutes,
            quiet_hours=settings().quiet_hours,
        ),
    )


@site.get("/<lang>/")
@cached
def home(lang: str):
    language_or_404(lang)
    release = release_or_503()
    groups = []
    placed: set[str] = set()
    for step in STEPS:
        guides = [g_ for g_ in release.guides_in(lang) if g_.steps and g_.steps[0] == step]
        guides = [g_ for g_ in guides if g_.id not in placed]
        placed.update(g_.id for g_ in guides)
        if guides:
            groups.append((step, guides))

    notices = []
    for n in current_kiosk().auth.notices(dt.date.today()):
        if n["lang"] == lang:
            ms = notice_duration(settings().data_dir, n["id"])
            notices.append({**n, "audio": ms is not None, "audio_ms": ms or 0})
    elsewhere = [_elsewhere(release, g_) for g_ in release.guides if lang not in g_.text]
    return render_template(
        "home.html",
        **page_context(release, lang, groups=groups, notices=notices, elsewhere=elsewhere),
    )


def _elsewhere(release: Release, item) -> dict:
    """A guide not translated into the page's language: its title in a language it has
    (the reference first), and each language it has, named in its own script."""
    tags = [t for t in release.languages if t in item.text]
    first = release.reference if release.reference in item.text else tags[0]
    return {
        "guide": item,
        "title": item.text[first]["title"],
        "lang": release.languages[first],
        "languages": [release.languages[t] for t in tags],
    }


@site.get("/<lang>/guide/<gid>")
@cached
def guide(lang: str, gid: str):
    language_or_404(lang)
    release = release_or_503()
    item = guide_or_404(release, gid)
    if lang not in item.text:
        # Not translated yet: say so in the visitor's language, and offer the ones it has.
        return render_template(
            "elsewhere.html", **page_context(release, lang, other=_elsewhere(release, item))
        )
    order = release.guides_in(lang)
    index = order.index(item)
    text = item.text[lang]
    return render_template(
        "guide.html",
        **page_context(
            release,
            lang,
            guide=item,
            text=text,
            timings=release.timings(text["audio"] and text["timings"]),
            previous=order[index - 1] if index > 0 else None,
            next=order[index + 1] if index + 1 < len(order) else None,
            thanks=request.args.get("thanks") == "1",
            guide_qr=qr_svg(f"{settings().portal_url.rstrip('/')}/{lang}/guide/{gid}"),
            wifi_qr=qr_svg(f"WIFI:S:{wifi_escape(settings().wifi_ssid)};T:nopass;;"),
        ),
    )


def wifi_escape(ssid: str) -> str:
    return re.sub(r'([\\;,:"])', r"\\\1", ssid)


@site.get("/<lang>/search")
def search(lang: str):
    language_or_404(lang)
    release = release_or_503()
    query = request.args.get("q", "")[:200].strip()
    if query:
        g.search_query = query
        g.search_known_words = release.known_words
    # The same words in the same language give the same page to everyone on a channel.
    key = (request.blueprint, lang, query, dt.date.today())
    found = release.searches.get(key)
    if found is None:
        hits = []
        for hit in search_index(release.root / "search.db", query, lang) if query else []:
            guide_ = release.guide_by_id.get(hit["guide"])
            if guide_ is None:
                continue
            snippet = str(escape(hit["snippet"]))
            snippet = snippet.replace("\x02", "<mark>").replace("\x03", "</mark>")
            snippet = Markup(snippet)  # noqa: S704 - escaped above, then only <mark> added
            hits.append({**hit, "title": guide_.text[lang]["title"], "snippet": snippet})
        context = page_context(release, lang, query=query, hits=hits)
        found = (bool(hits), render_template("search.html", **context))
        release.searches.put(key, found)
    if query:
        g.search_found = found[0]
    return found[1]


@site.get("/<lang>/help")
def help_page(lang: str):
    language_or_404(lang)
    release = release_or_503()
    words = release.words(lang)
    countries = sorted({c for contact in release.contacts for c in contact["countries"]})
    country = request.args.get("country", "")
    country = country if country in countries else ""
    speaks = request.args.get("language", "")
    speaks = speaks if speaks in release.languages else ""
    contacts = [
        {
            **contact_in(c, lang, release.reference, release.languages[release.reference]["dir"]),
            "stale": is_stale(c["verified"]),
        }
        for c in release.contacts
        if (not country or country in c["countries"]) and (not speaks or speaks in c["languages"])
    ]
    for c in contacts:
        if g.channel == "screen":  # a kiosk cannot dial: a phone scans the number instead
            c["call_qr"] = qr_svg("tel:" + re.sub(r"[^0-9+#*]", "", c["phone"]))
    return render_template(
        "help.html",
        **page_context(
            release,
            lang,
            groups=_by_country(release, lang, contacts, words),
            countries=countries,
            country=country,
            speaks=speaks,
        ),
    )


def _by_country(release: Release, lang: str, contacts: list[dict], words) -> list[tuple]:
    """Contacts under their countries: first the country the kiosk stands in, then those
    where a real contact (not a sample) speaks the visitor's language, then the rest by name.
    In each country emergency numbers come first and sample contacts last."""
    here = settings().wifi_country.upper()
    spoken = {c for contact in release.contacts if lang in contact["languages"]
              and not contact["example"] for c in contact["countries"]}  # fmt: skip

    def rank(code: str) -> tuple:
        return (code != here, code not in spoken, words.get(f"country.{code}", code))

    groups: dict[str, list[dict]] = {}
    for contact in contacts:
        groups.setdefault(min(contact["countries"], key=rank), []).append(contact)
    for items in groups.values():
        items.sort(key=contact_order)
    return sorted(groups.items(), key=lambda item: rank(item[0]))


@site.get("/<lang>/guide/<gid>/save.html")
def save_text(lang: str, gid: str):
    language_or_404(lang)
    release = release_or_503()
    item = guide_or_404(release, gid)
    if lang not in item.text:
        abort(404)
    text = item.text[lang]
    # Links to other pages of the kiosk would be dead on the journey: keep their words only.
    text = {
        **text,
        "sections": [
            {**s, "html": Markup(LOCAL_LINK.sub(r"\1", s["html"]))}  # noqa: S704 - signed HTML
            for s in text["sections"]
        ],
    }
    body = render_template(
        "save.html",
        **page_context(release, lang, guide=item, text=text, today=dt.date.today()),
    )
    response = Response(body, mimetype="text/html")
    response.headers["Content-Disposition"] = _attachment(f"{gid}-{lang}.html")
    return response


@site.get("/<lang>/guide/<gid>/save.mp3")
def save_audio(lang: str, gid: str):
    language_or_404(lang)
    release = release_or_503()
    rel = guide_or_404(release, gid).text.get(lang, {}).get("audio")
    path = release.path_of(rel) if rel else None
    if path is None:
        abort(404)
    name = f"{gid}-{lang}.mp3"
    return send_file(
        path, mimetype="audio/mpeg", as_attachment=True, download_name=name, conditional=True
    )


def _attachment(name: str) -> str:
    return f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}"


# ---------------------------------------------------------------- errors


def _error_page(status: int):
    try:
        release = library().release()
    except ReleaseNotFound:
        # Before the first release arrives (by stick or sync) the touchscreen shows this page;
        # it looks again every 30 s, so the screen comes alive by itself when guides arrive.
        return Response(
            "<!doctype html><html lang=en><meta charset=utf-8>"
            "<meta http-equiv=refresh content=30><title>Not available</title>"
            "<h1>The guides are not available right now.</h1>"
            "<p>Please ask the librarian.</p></html>",
            status=503,
            mimetype="text/html",
            headers={"Retry-After": "30"},
        )
    parts = request.path.strip("/").split("/")
    if parts and parts[0] == "screen":
        parts = parts[1:]
    lang = parts[0] if parts and parts[0] in release.languages else None
    if not hasattr(g, "channel"):
        g.channel = "screen" if request.path.startswith("/screen") else "phone"
    return render_template("error.html", **page_context(release, lang, status=status)), status


def install(app: Flask) -> None:
    # A word borrowed from another language is marked with a <span lang>; inside an
    # attribute or <title>, where no tag can go, templates take its plain text.
    app.add_template_filter(str, "plain")
    app.register_blueprint(site, name="phone")
    app.register_blueprint(site, name="screen", url_prefix="/screen")
    app.add_url_rule("/media/<int:version>/<path:rel>", "media", media)
    app.add_url_rule("/static/<version>/<name>", "static_file", static_file)
    app.add_url_rule("/favicon.ico", "favicon", favicon)
    for status in (400, 403, 404, 405, 413, 414, 431, 500, 503):
        app.register_error_handler(status, lambda exc, status=status: _error_page(status))
