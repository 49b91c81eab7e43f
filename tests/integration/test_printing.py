"""The librarian prints a guide's leaflet on the library's printer: a real CUPS scheduler.

What a printer receives is read back from the test printer's own backend (tests/cups.py): the
same bytes as the signed leaflet in the live release, the copies and the paper asked for.
"""

from __future__ import annotations

import json
import os
import re

import pytest

from tests import test_admin
from tests.cups import CupsServer
from tests.test_admin import SCREEN, signed_in

# The librarian's page on an installed fixture release, as test_admin.py makes it.
device, admin_app = test_admin.device, test_admin.admin_app

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="cupsd starts its printers' jobs as lp, which needs root (CI: root)"
)


@pytest.fixture
def cups(tmp_path, monkeypatch):
    server = CupsServer(tmp_path / "cups")
    monkeypatch.setenv("CUPS_SERVER", str(server.socket))
    yield server
    server.stop()


def leaflets_of(fixture_release) -> dict:
    """{(guide, lang, paper): release path} from the signed catalog."""
    catalog = json.loads((fixture_release / "catalog.json").read_text())
    return {
        (guide["id"], tag, paper): rel
        for guide in catalog["guides"]
        for tag, text in guide["text"].items()
        for paper, rel in text.get("leaflets", {}).items()
    }


def print_form(client, token, **fields):
    data = {"csrf": token, "guide": "passport", "lang": "ne", "paper": "a5", "copies": "3",
            "printer": "leaflets", **fields}  # fmt: skip
    return client.post("/admin/print", data=data, environ_base=SCREEN)


def test_a_leaflet_reaches_the_printer_as_signed_with_the_copies_and_paper_asked(
    admin_app, cups, fixture_release
):
    jobs = cups.add_printer("leaflets")
    client, token = signed_in(admin_app)
    page = client.get("/admin/leaflets", environ_base=SCREEN).get_data(as_text=True)
    assert "leaflets</strong>: ready" in page, page
    sent = print_form(client, token)
    assert sent.status_code == 303, sent.get_data(as_text=True)
    job = re.search(r"job=([\w-]+)", sent.headers["Location"]).group(1)
    shown = client.get(sent.headers["Location"], environ_base=SCREEN).get_data(as_text=True)
    assert f"Sent to the printer (job {job})." in shown
    data, (title, copies, options) = cups.printed(jobs, job)
    rel = leaflets_of(fixture_release)[("passport", "ne", "a5")]
    assert data == (fixture_release / rel).read_bytes()
    assert copies == "3" and "media=A5" in options.split()
    assert title.endswith("(ne, A5)") and len(title) > len("(ne, A5)") + 3
    # Reloading the page the print led to prints nothing more.
    client.get(sent.headers["Location"], environ_base=SCREEN)
    assert cups.jobs() == [job]


@pytest.mark.parametrize(
    "field, value",
    [
        ("guide", "no-such-guide"),
        ("guide", "../manifest"),
        ("lang", "xx"),
        ("paper", "letter"),
        ("paper", "a4/../../manifest.json"),
        ("copies", "0"),
        ("copies", "101"),
        ("copies", "two"),
        ("copies", ""),
        ("printer", "no-such-printer"),
        ("printer", "-o"),
    ],
)
def test_bad_print_requests_are_refused_clearly_and_print_nothing(admin_app, cups, field, value):
    cups.add_printer("leaflets")
    client, token = signed_in(admin_app)
    answer = print_form(client, token, **{field: value})
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert "Choose a guide" in page or "There is no printer called" in page, page
    assert cups.jobs() == []


def test_printing_needs_the_librarian_and_the_forms_token(admin_app, cups):
    cups.add_printer("leaflets")
    client = admin_app.test_client()
    assert print_form(client, "").status_code == 403  # not signed in: no session, no token
    client, _ = signed_in(admin_app)
    assert print_form(client, "not the token").status_code == 403
    assert cups.jobs() == []


def test_a_stopped_printer_is_shown_and_its_leaflets_wait_for_it(admin_app, cups):
    cups.add_printer("leaflets")
    cups.add_printer("office", default=True)
    cups.stop_printer("leaflets", "Paper out")
    client, token = signed_in(admin_app)
    page = client.get("/admin/leaflets", environ_base=SCREEN).get_data(as_text=True)
    assert "leaflets</strong>: stopped. Check the paper" in page
    assert "office</strong>: ready" in page
    assert re.search(r"<option selected>office</option>", page), "the default is chosen"
    assert print_form(client, token, printer="leaflets").status_code == 303
    page = client.get("/admin/leaflets", environ_base=SCREEN).get_data(as_text=True)
    stopped = "leaflets</strong>: stopped. Check the paper and ink, or ask a technician."
    assert f"{stopped} · 1 waiting" in page


def test_without_a_printer_the_page_offers_every_leaflet_to_open(
    admin_app, tmp_path, monkeypatch, fixture_release
):
    monkeypatch.setenv("CUPS_SERVER", str(tmp_path / "no-cups.sock"))  # no scheduler at all
    client, token = signed_in(admin_app)
    page = client.get("/admin/leaflets", environ_base=SCREEN).get_data(as_text=True)
    assert "No printer is set up on this kiosk." in page
    assert 'action="/admin/print"' not in page
    links = re.findall(r'<a href="([^"]+)" type="application/pdf"', page)
    expected = leaflets_of(fixture_release)
    assert len(links) == len(expected) > 0
    for link in links[:3]:
        with client.get(link, environ_base=SCREEN) as got:
            assert got.status_code == 200 and got.data.startswith(b"%PDF")
    answer = print_form(client, token, printer="leaflets")
    assert answer.status_code == 400
    assert "There is no printer called" in answer.get_data(as_text=True)


def test_the_dashboard_leads_to_the_leaflets_in_the_librarians_language(admin_app):
    client, token = signed_in(admin_app)
    page = client.get("/admin/dashboard", environ_base=SCREEN).get_data(as_text=True)
    assert 'href="/admin/leaflets"' in page
    client.post("/admin/language", data={"csrf": token, "lang": "ne"}, environ_base=SCREEN)
    page = client.get("/admin/leaflets", environ_base=SCREEN).get_data(as_text=True)
    assert "छाप्ने पर्चाहरू" in page
