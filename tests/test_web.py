"""The guide site through Flask's test client: every route, both channels, bad input."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.device.web import create_app
from kiosk.device.web.state import kiosk_of
from tests.conftest import device_settings, qr_codes

PHONE = {"REMOTE_ADDR": "10.42.0.23"}
SCREEN = {"REMOTE_ADDR": "127.0.0.1"}


def get(client, url, env=PHONE, **kw):
    response = client.get(url, environ_base=env, **kw)
    response.get_data()  # read it all, then let go of any file behind it
    response.close()
    return response


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/en/",
        "/ne/",
        "/ar/guide/passport",
        "/ro/guide/help-abroad",
        "/en/search?q=passport",
        "/ne/help",
        "/portal",
        "/screen/",
        "/screen/ar/",
        "/screen/ne/guide/passport",
    ],
)
def test_every_page_renders_with_safe_headers_and_no_outside_requests(client, url):
    env = SCREEN if url.startswith("/screen") else PHONE
    response = get(client, url, env)
    assert response.status_code == 200, url
    for cookie in response.headers.getlist("Set-Cookie"):
        assert cookie.startswith("visit=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        # A session cookie: a visit lasts while the browser is open, never longer (nor shorter).
        assert "Max-Age" not in cookie and "Expires" not in cookie
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    body = text(response)
    # Nothing loads from anywhere but the kiosk itself.
    assert not re.search(r'(src|href)="(https?:)?//(?!10\.42\.0\.1/)', body), url
    assert not re.search(r"@import|url\(http", body)


def test_language_choice_lists_native_names_with_their_spoken_names(client):
    body = text(get(client, "/"))
    for tag, name in (("en", "English"), ("ne", "नेपाली"), ("ar", "العربية"), ("ro", "Română")):
        assert re.search(rf'<a class="language" href="/{tag}/" lang="{tag}"', body)
        assert name in body
    assert re.search(r'data-say="/media/100/audio/ui/ne/language_name.mp3"', body)
    assert "data-say" not in body.split('href="/ro/"')[1].split("</a>")[0]  # no voice: no audio


def test_arabic_pages_are_right_to_left(client):
    for url in ("/ar/", "/ar/guide/passport", "/ar/help", "/ar/search?q=x"):
        assert '<html lang="ar" dir="rtl"' in text(get(client, url))


def test_home_groups_tiles_by_journey_step_with_listen_controls(client):
    body = text(get(client, "/ne/"))
    assert body.index('id="step-origin"') < body.index('id="step-arrival"')
    assert 'href="/ne/guide/passport"' in body and 'href="/ne/guide/help-abroad"' in body
    assert re.search(
        r'class="btn listen" hidden data-src="/media/100/audio/guides/passport/ne.mp3"', body
    )
    assert 'href="/ne/help"' in body


def test_guide_page_has_sections_listen_for_each_and_timings(client):
    body = text(get(client, "/ne/guide/passport"))
    assert 'id="sec-copies"' in body and 'id="sec-taken"' in body
    fragments = re.findall(
        r'src="/media/100/audio/guides/passport/ne.mp3#t=([\d.]+),([\d.]+)"', body
    )
    assert len(fragments) == 2 and float(fragments[0][1]) <= float(fragments[1][0])
    timings = json.loads(re.search(r'id="timings">(.*?)</script>', body).group(1))
    spans = {int(n) for n in re.findall(r'data-s="(\d+)"', body)}
    assert spans == set(range(len(timings)))
    assert 'href="/ne/guide/help-abroad"' in body  # next guide
    assert 'href="help-abroad#sec-embassy"' in body  # link inside the text


def test_text_only_language_says_so_and_has_no_players(client):
    body = text(get(client, "/ro/guide/passport"))
    assert "<audio" not in body and "data-src" not in body
    assert 'class="note"' in body


def test_screen_gets_qr_codes_and_idle_reset_phone_gets_downloads(client, app):
    body = text(get(client, "/screen/ne/guide/passport", SCREEN))
    portal = kiosk_of(app).settings.portal_url.rstrip("/")
    ssid = kiosk_of(app).settings.wifi_ssid
    assert qr_codes(body) == [f"WIFI:S:{ssid};T:nopass;;", f"{portal}/ne/guide/passport"]
    assert 'data-idle="90"' in body and 'data-home="/screen/"' in body
    assert "save.html" not in body
    phone = text(get(client, "/ne/guide/passport"))
    assert "segno" not in phone and 'href="/ne/guide/passport/save.html"' in phone


def test_wifi_name_is_escaped_in_the_qr_code(device_dir, keypair, usage):
    """A ';' or '"' in the name would end the name early: the phone would join no network."""
    settings = device_settings(device_dir, Path(f"{keypair[0]}.pub"), wifi_ssid='Lib;rary "A",1:')
    screen = create_app(settings, usage=usage).test_client()
    wifi = 'WIFI:S:Lib\\;rary \\"A\\"\\,1\\:;T:nopass;;'  # as a phone's camera reads it
    assert qr_codes(text(get(screen, "/screen/ne/guide/passport", SCREEN)))[0] == wifi
    assert set(qr_codes(text(get(screen, "/screen/attract", SCREEN)))) == {wifi}


def test_screen_pages_are_only_for_the_kiosk_itself(client):
    response = get(client, "/screen/ne/guide/passport?x=1", PHONE)
    assert response.status_code == 302
    assert response.headers["Location"] == "/ne/guide/passport?x=1"


def test_search_finds_with_snippets_and_escapes_what_was_typed(client):
    body = text(get(client, "/ro/search?q=PASAPORT"))
    assert "<mark>" in body and 'href="/ro/guide/passport#sec-' in body
    hostile = text(get(client, "/en/search?q=<script>alert(1)</script>"))
    assert "<script>alert" not in hostile and "&lt;script&gt;" in hostile
    miss = text(get(client, "/en/search?q=zebra"))
    assert "zebra" in miss and 'href="/en/help"' in miss


def test_a_search_asked_again_is_the_same_page_and_each_channel_keeps_its_own(client):
    first = text(get(client, "/ro/search?q=pasaport"))
    assert text(get(client, "/ro/search?q=pasaport")) == first  # the second from memory
    screen = text(get(client, "/screen/ro/search?q=pasaport", SCREEN))
    assert 'href="/screen/ro/guide/passport#sec-' in screen and 'href="/ro/guide/' not in screen
    assert 'href="/ro/guide/passport#sec-' in text(get(client, "/ro/search?q=pasaport"))
    other = text(get(client, "/ro/search?q=pasaportul"))
    assert 'value="pasaportul"' in other and 'value="pasaport"' not in other  # not another's


def test_the_touchscreens_help_gives_each_number_as_a_code_a_phone_can_scan(client):
    body = text(get(client, "/screen/en/help", SCREEN))
    assert 'href="tel:' not in body  # a kiosk cannot dial
    numbers = re.findall(r'<p class="number" dir="ltr">.*?</svg> ([^<]+)</p>', body)
    assert numbers and qr_codes(body) == ["tel:" + n.replace(" ", "") for n in numbers]


def test_help_filters_by_country_and_language_and_flags_examples_and_stale(client):
    body = text(get(client, "/en/help"))
    assert 'href="tel:100"' in body and 'href="tel:+00000000001"' in body
    assert body.count('class="contact example"') == 2
    assert body.count("<strong>Not checked recently") == 1  # only the 2024 entry
    only_ar = text(get(client, "/en/help?language=ar"))
    assert "Legal aid" in only_ar and "Nepal Police" not in only_ar
    assert 'class="verified stale"' in only_ar
    nowhere = text(get(client, "/en/help?country=ZZ&language=xx"))
    assert nowhere.count('<li class="contact') == 3  # unknown filters are ignored, not errors


def test_take_it_with_you_is_self_contained(client, fixture_release):
    response = get(client, "/ne/guide/passport/save.html")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    body = text(response)
    assert "<script" not in body and "<img" not in body and "<link" not in body
    assert not re.search(r'(src|href)="(?!tel:|mailto:|https:|#)', body)
    assert "आफ्नो राहदानीको दुई प्रतिलिपि बनाउनुहोस्।" in body
    audio = get(client, "/ne/guide/passport/save.mp3")
    assert audio.mimetype == "audio/mpeg"
    assert audio.get_data() == (fixture_release / "audio/guides/passport/ne.mp3").read_bytes()
    assert get(client, "/ro/guide/passport/save.mp3").status_code == 404  # text only


def test_media_serves_only_listed_release_files(client):
    ok = get(client, "/media/100/audio/guides/passport/en.mp3")
    assert ok.status_code == 200 and "immutable" in ok.headers["Cache-Control"]
    ranged = get(client, "/media/100/audio/guides/passport/en.mp3", headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and len(ranged.get_data()) == 100
    for bad in (
        "/media/100/catalog.json",
        "/media/100/manifest.json",
        "/media/100/search.db",
        "/media/100/audio/guides/passport/en.json",
        "/media/99/audio/guides/passport/en.mp3",
        "/media/100/../../../etc/passwd",
        "/media/100/%2e%2e/%2e%2e/etc/passwd",
        "/media/100/audio/guides/passport/../../../manifest.sig",
        "/static/x/site.css",
        "/static/../kiosk/device/web/pages.py",
    ):
        assert get(client, bad).status_code == 404, bad


def test_second_visit_transfers_next_to_nothing(client):
    first = get(client, "/ne/guide/passport", headers={"Accept-Encoding": "gzip"})
    assert first.headers["Content-Encoding"] == "gzip"
    assert "ना" in gzip.decompress(first.get_data()).decode()
    again = get(
        client,
        "/ne/guide/passport",
        headers={"Accept-Encoding": "gzip", "If-None-Match": first.headers["ETag"]},
    )
    assert again.status_code == 304 and again.get_data() == b""
    css = re.search(r'href="(/static/[^"]+site.css)"', text(get(client, "/ne/"))).group(1)
    assert "immutable" in get(client, css).headers["Cache-Control"]


def test_friendly_404_in_the_visitors_language(client):
    response = get(client, "/ne/guide/nothing-here")
    assert response.status_code == 404
    body = text(response)
    assert '<html lang="ne"' in body and "/screen" not in body
    assert get(client, "/xx/").status_code == 404
    assert get(client, "/screen/ar/guide/nope", SCREEN).status_code == 404


def test_no_verified_release_means_nothing_is_shown(tmp_path, keypair, fixture_release, usage):
    from kiosk.device.install import ReleaseStore

    empty = create_app(device_settings(tmp_path / "none", Path(f"{keypair[0]}.pub")), usage=usage)
    response = empty.test_client().get("/en/", environ_base=PHONE)
    assert response.status_code == 503 and "not available" in text(response)
    # The touchscreen waits for its first release by itself: it looks again every 30 s.
    waiting = empty.test_client().get("/screen/", environ_base=SCREEN)
    assert waiting.status_code == 503 and waiting.headers["Retry-After"] == "30"
    assert "<meta http-equiv=refresh content=30>" in text(waiting)

    data = tmp_path / "device"
    ReleaseStore(data).install(fixture_release, [keypair[1]])
    live = data / "current" / "audio" / "guides" / "passport" / "en.mp3"
    damaged = bytearray(live.read_bytes())
    damaged[500] ^= 0xFF
    live.write_bytes(bytes(damaged))  # the SD card rots after install
    app = create_app(device_settings(data, Path(f"{keypair[0]}.pub")), usage=usage)
    response = app.test_client().get("/en/guide/passport", environ_base=PHONE)
    assert response.status_code == 503
    assert kiosk_of(app).library.problem.startswith("The release is damaged")


def test_a_new_install_is_picked_up_without_restart(tmp_path, keypair, fixture_release, usage):
    from kiosk.device.install import ReleaseStore

    data = tmp_path / "device"
    store = ReleaseStore(data)
    store.install(fixture_release, [keypair[1]])
    settings = device_settings(data, Path(f"{keypair[0]}.pub"))
    client = create_app(settings, usage=usage).test_client()
    assert "/media/100/" in text(client.get("/en/", environ_base=PHONE))
    newer = tmp_path / "r101"
    shutil.copytree(fixture_release, newer)
    import datetime as dt

    from kiosk.formats.manifest import load_private_key, write_manifest

    now = dt.datetime.now(dt.UTC)
    write_manifest(newer, 101, now, now + dt.timedelta(days=9), load_private_key(keypair[0]))
    store.install(newer, [keypair[1]])
    assert "/media/101/" in text(client.get("/en/", environ_base=PHONE))


# ---------------------------------------------------------------- captive portal


def probes():
    import tomllib

    from kiosk.device.web.captive import PROBES_FILE

    data = tomllib.loads(PROBES_FILE.read_text())
    return [(path, p) for p in data["probe"] for path in p["paths"]]


@pytest.mark.parametrize(("path", "probe"), probes(), ids=[p for p, _ in probes()])
def test_probes_send_phones_to_the_portal_until_they_continue(client, path, probe):
    for host in ("connectivitycheck.gstatic.com", "captive.apple.com", "10.42.0.1", "x.invalid"):
        response = get(client, path, headers={"Host": host})
        assert response.status_code == 302
        assert response.headers["Location"] == "http://10.42.0.1/portal"
    assert client.post("/portal/continue", environ_base=PHONE).status_code == 303
    online = get(client, path, headers={"Host": "captive.apple.com"})
    assert online.status_code == probe["status"]
    assert text(online) == probe["body"]
    other_phone = client.get(path, environ_base={"REMOTE_ADDR": "10.42.0.99"})
    assert other_phone.status_code == 302


def test_a_phone_that_pressed_continue_is_told_it_is_online_only_for_a_while(app):
    from kiosk.device.web.state import OnlineClients

    # On the device: online_minutes (30, README's settings table) after Continue.
    assert kiosk_of(app).online.seconds == 30 * 60
    # The same, a few seconds long, to watch it end on the real clock.
    window = 3.0
    kiosk_of(app).online = online = OnlineClients(minutes=window / 60)
    phone = app.test_client()
    assert get(phone, "/generate_204").status_code == 302
    assert phone.post("/portal/continue", environ_base=PHONE).status_code == 303
    assert get(phone, "/generate_204").status_code == 204
    time.sleep(window * 0.5)
    assert get(phone, "/generate_204").status_code == 204  # still within its minutes
    time.sleep(window * 0.5 + 0.3)
    ended = get(phone, "/generate_204")
    assert ended.status_code == 302 and ended.headers["Location"] == "http://10.42.0.1/portal"
    assert len(online) == 0
    other = {"REMOTE_ADDR": "10.42.0.99"}
    assert phone.post("/portal/continue", environ_base=other).status_code == 303
    assert list(online._until) == ["10.42.0.99"]  # the first phone's address is forgotten
    assert phone.post("/portal/continue", environ_base=PHONE).status_code == 303
    assert get(phone, "/generate_204").status_code == 204  # pressing Continue again: online


def test_every_expected_probe_is_answered():
    paths = {p for p, _ in probes()}
    assert paths >= {
        "/generate_204", "/gen_204", "/hotspot-detect.html", "/library/test/success.html",
        "/connecttest.txt", "/ncsi.txt", "/redirect", "/canonical.html", "/success.txt",
    }  # fmt: skip


def test_other_hosts_are_sent_to_the_kiosk(client):
    response = get(client, "/some/page?x=1", headers={"Host": "www.example.com"})
    assert response.status_code == 302 and response.headers["Location"] == "http://10.42.0.1/portal"
    assert get(client, "/en/", headers={"Host": "10.42.0.1"}).status_code == 200
    assert get(client, "/en/", headers={"Host": "10.42.0.1:80"}).status_code == 200


def test_portal_page_works_without_script_and_offers_the_address(client):
    body = text(get(client, "/portal"))
    assert '<form action="/portal/continue" method="post">' in body
    assert "http://10.42.0.1/" in body
    assert body.count("<section lang=") == 4


# ---------------------------------------------------------------- hostile input


@pytest.mark.parametrize(
    "url",
    [
        "/%ff%fe/",
        "/en/guide/%ff",
        "/en/search?q=%ff%fe%00",
        "/en/search?q=" + "a" * 20000,
        "/en/help?country=%00&language=%ff",
        "/en/guide/passport/save.html/../../etc/passwd",
        "/screen/%2e%2e/",
        "/en/guide/" + "x" * 5000,
        "/en/search?q=" + "%22%2A%28" * 500,
    ],
)
def test_hostile_urls_get_4xx_or_a_page_never_500(client, url):
    assert get(client, url).status_code < 500


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=4),
    query=st.text(max_size=300),
)
def test_random_paths_and_queries_never_crash(client, path, query):
    from urllib.parse import quote

    url = "/" + "/".join(quote(p, safe="") for p in path)
    response = client.get(url, query_string={"q": query, "country": query}, environ_base=PHONE)
    response.close()
    assert response.status_code < 500
    response = client.get("/en/search", query_string={"q": query}, environ_base=PHONE)
    assert response.status_code == 200


def test_oversized_form_is_refused_cleanly(client):
    response = client.post("/portal/continue", data="x" * 100_000, environ_base=PHONE)
    assert response.status_code == 413


def test_contacts_show_in_the_visitors_language_when_translated(client):
    assert "नेपाल प्रहरी" in text(get(client, "/ne/help"))
    english = text(get(client, "/ar/help"))
    assert "Nepal Police" in english and "नेपाल प्रहरी" not in english  # falls back


def test_attract_screen_is_for_the_touchscreen_only(client, app):
    body = text(get(client, "/screen/attract", SCREEN))
    assert body.count('class="slide"') == 4 and 'lang="ar" dir="rtl"' in body
    assert 'data-invite="/media/100/audio/ui/ne/welcome.mp3"' in body
    assert 'data-quiet="21-7"' in body and 'data-invite-minutes="10"' in body
    ssid = kiosk_of(app).settings.wifi_ssid
    assert set(qr_codes(body)) == {f"WIFI:S:{ssid};T:nopass;;"}  # on every slide
    assert get(client, "/attract").status_code == 404


def test_a_release_that_expires_while_served_stops_being_shown(
    tmp_path, keypair, fixture_release, usage
):
    import datetime as dt

    from kiosk.device.install import ReleaseStore
    from kiosk.formats.manifest import load_private_key, write_manifest

    soon = tmp_path / "soon"
    shutil.copytree(fixture_release, soon)
    now = dt.datetime.now(dt.UTC)
    write_manifest(soon, 300, now, now + dt.timedelta(seconds=3), load_private_key(keypair[0]))
    ReleaseStore(tmp_path / "d").install(soon, [keypair[1]])
    client = create_app(
        device_settings(tmp_path / "d", Path(f"{keypair[0]}.pub")), usage=usage
    ).test_client()
    assert client.get("/en/", environ_base=PHONE).status_code == 200
    time.sleep(3.5)
    response = client.get("/en/", environ_base=PHONE)
    assert response.status_code == 503


def test_help_shows_the_kiosks_own_country_first_then_where_the_visitor_is_understood(
    sample_device, keypair, usage
):
    def countries(wifi_country: str, lang: str) -> list[str]:
        settings = device_settings(
            sample_device, Path(f"{keypair[0]}.pub"), wifi_country=wifi_country
        )
        body = text(get(create_app(settings, usage=usage).test_client(), f"/{lang}/help"))
        return re.findall(r'class="country-name">([^<]+)<', body)

    # A kiosk in Mexico: its own emergency numbers first, whoever reads.
    assert countries("MX", "ne")[:2] == ["मेक्सिको", "नेपाल"]
    # Nowhere set: the countries where a real contact speaks the visitor's language come
    # first (a sample contact that speaks it does not count).
    assert countries("00", "ne")[0] == "नेपाल"
    assert countries("00", "es")[:2] == ["España", "México"]
    assert len(countries("00", "es")) == len(set(countries("00", "es")))  # each country once


def test_a_tiles_listen_says_the_title_and_the_summary(client, fixture_release):
    body = text(get(client, "/en/"))
    catalog = json.loads((fixture_release / "catalog.json").read_text())
    passport = next(g for g in catalog["guides"] if g["id"] == "passport")["text"]["en"]
    from kiosk.device.library import Release

    timings = Release(fixture_release, 100).timings(passport["timings"])
    first_section = passport["sections"][0]["sentences"][0]
    button = re.search(r'<button[^>]*data-end="(\d+)"[^>]*aria-label="[^"]*: ' +
                       re.escape(passport["title"]), body)  # fmt: skip
    assert button, body
    assert int(button[1]) == timings[first_section - 1][1] > timings[0][1]
