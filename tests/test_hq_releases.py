"""Headquarters' releases: a candidate seen as kiosks would show it, published, withdrawn.

Release 100 is the fixture release; 101 is the same content re-signed with one title changed,
so a preview can tell them apart.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest

from kiosk.formats.keys import load_private_key
from kiosk.formats.manifest import write_manifest
from kiosk.hq.accounts import Accounts
from kiosk.hq.web import create_hq_app
from tests.test_hq_app import PASSWORD, token_of

NEW_TITLE = "Your passport, and two copies of it"


def resign(folder, version: int, key_path, change=None) -> None:
    (folder / "manifest.json").unlink()
    if change:
        change(folder)
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    write_manifest(folder, version, now, now + dt.timedelta(days=60), load_private_key(key_path))


def retitle(folder) -> None:
    catalog = json.loads((folder / "catalog.json").read_text())
    guide = next(g for g in catalog["guides"] if g["id"] == "passport")
    guide["text"]["en"]["title"] = NEW_TITLE
    (folder / "catalog.json").write_text(json.dumps(catalog, ensure_ascii=False))


@pytest.fixture
def root(tmp_path, fixture_release, keypair):
    root = tmp_path / "hq"
    channel = root / "releases" / "stable"
    channel.mkdir(parents=True)
    shutil.copytree(fixture_release, channel / "100")
    shutil.copytree(fixture_release, channel / "101")
    resign(channel / "101", 101, keypair[0], retitle)
    (channel / "LATEST").write_text("100\n")
    accounts = Accounts(root)
    for name, role in (("vera", "viewer"), ("paul", "publisher"), ("ada", "admin")):
        accounts.add(name, role, PASSWORD)
    return root


def client_for(root, name: str, trusted):
    client = create_hq_app(root, trusted=trusted).test_client()
    token = token_of(client.get("/").get_data(as_text=True))
    client.post("/sign-in", data={"csrf": token, "user": name, "password": PASSWORD})
    return client


def test_a_candidate_is_seen_as_phones_and_the_touchscreen_would_and_counts_nothing(root, keypair):
    client = client_for(root, "vera", [keypair[1]])
    page = client.get("/releases").get_data(as_text=True)
    assert re.search(r"<th scope=\"row\">101</th>\s*<td>candidate, not published</td>", page)
    assert re.search(r"<th scope=\"row\">100</th>\s*<td>published: kiosks take this</td>", page)
    assert "Publish…" not in page  # a viewer may look, not publish
    new = client.get("/preview/stable/101/en/").get_data(as_text=True)
    old = client.get("/preview/stable/100/en/").get_data(as_text=True)
    assert NEW_TITLE in new and NEW_TITLE not in old
    assert 'href="/preview/stable/101/en/guide/passport"' in new  # links stay in the preview
    screen = client.get("/preview/stable/101/screen/en/")
    assert screen.status_code == 200 and 'class="screen"' in screen.get_data(as_text=True)
    guide = client.get("/preview/stable/101/en/guide/passport").get_data(as_text=True)
    audio = re.search(r'src="(/preview/stable/101/media/[^"]+\.mp3)"', guide).group(1)
    assert client.get(audio).data[:2] in (b"ID", b"\xff\xfb", b"\xff\xf3")  # an MP3
    answer = client.post("/preview/stable/101/en/guide/passport/helpful",
                         data={"csrf": token_of(page), "helpful": "yes"})  # fmt: skip
    assert answer.status_code == 405
    assert not list(root.rglob("usage.db")), "a preview counts nothing"
    assert client.get("/preview/stable/999/en/").status_code == 400
    assert client.get("/preview/../../etc/en/").status_code == 404


def test_a_tampered_candidate_is_refused_everywhere(root, keypair):
    channel = root / "releases" / "stable"
    shutil.copytree(channel / "101", channel / "102")
    resign(channel / "102", 102, keypair[0])
    (channel / "102" / "catalog.json").write_text("{}")  # changed after signing
    shutil.copytree(channel / "101", channel / "103")  # signed as 101
    publisher = client_for(root, "paul", [keypair[1]])
    page = publisher.get("/releases").get_data(as_text=True)
    refused = r"<th scope=\"row\">102</th>.*?<strong>refused</strong>: [^<]*catalog\.json"
    assert re.search(refused, page, re.S)
    assert "The folder 103 holds release 101." in page
    assert publisher.get("/preview/stable/102/en/").status_code == 400
    token = token_of(page)
    assert publisher.post("/releases/stable/102/publish", data={"csrf": token}).status_code == 400
    assert (channel / "LATEST").read_text() == "100\n"


def test_publish_and_withdraw_need_a_publisher_a_confirmation_and_are_audited(root, keypair):
    channel = root / "releases" / "stable"
    viewer = client_for(root, "vera", [keypair[1]])
    assert viewer.get("/releases/stable/101/publish").status_code == 403
    publisher = client_for(root, "paul", [keypair[1]])
    confirm = publisher.get("/releases/stable/101/publish").get_data(as_text=True)
    assert "Publish release 101 on channel stable?" in confirm
    assert (channel / "LATEST").read_text() == "100\n"  # looking at the question changes nothing
    done = publisher.post("/releases/stable/101/publish", data={"csrf": token_of(confirm)})
    assert done.status_code == 303 and (channel / "LATEST").read_text() == "101\n"
    again = publisher.post("/releases/stable/100/publish", data={"csrf": token_of(confirm)})
    assert again.status_code == 400 and (channel / "LATEST").read_text() == "101\n"
    confirm = publisher.get("/releases/stable/withdraw").get_data(as_text=True)
    assert "Kiosks that already took release 101 keep it" in confirm
    back = publisher.post("/releases/stable/withdraw", data={"csrf": token_of(confirm)})
    assert back.status_code == 303 and (channel / "LATEST").read_text() == "100\n"
    page = publisher.get(back.headers["Location"]).get_data(as_text=True)
    assert "Withdrawn: stable 101 → 100." in page
    log = client_for(root, "ada", [keypair[1]]).get("/audit").get_data(as_text=True)
    assert "<td>paul</td><td>withdraw release</td><td>stable 101 (LATEST back to 100)</td>" in log
    assert "<td>paul</td><td>publish release</td><td>stable 101</td>" in log


def test_without_the_public_key_nothing_is_shown_or_published(root, other_keypair):
    client = client_for(root, "paul", [])
    assert "kiosk hq serve --pubkey KEY.pub" in client.get("/releases").get_data(as_text=True)
    assert client.get("/preview/stable/101/en/").status_code == 503
    wrong = client_for(root, "paul", [other_keypair[1]])
    assert wrong.get("/preview/stable/101/en/").status_code == 400
    token = token_of(wrong.get("/releases").get_data(as_text=True))
    assert wrong.post("/releases/stable/101/publish", data={"csrf": token}).status_code == 400
    assert (root / "releases" / "stable" / "LATEST").read_text() == "100\n"
