"""What kiosk-web keeps for the front server, told only when the live release changes."""

from __future__ import annotations

import time

import pytest

from kiosk.errors import ReleaseNotFound
from kiosk.library import Library
from kiosk.releases.install import ReleaseStore
from kiosk.web import front
from tests.conftest import device_settings


def test_listeners_hear_of_each_change_once_not_of_every_look(tmp_path, fixture_release, keypair):
    library = Library(tmp_path, [keypair[1]])
    heard = []
    library.listeners.append(heard.append)
    for _ in range(5):  # no release yet: every look fails, but nothing changed after the first
        with pytest.raises(ReleaseNotFound):
            library.release()
    assert heard == [None]
    ReleaseStore(tmp_path).install(fixture_release, [keypair[1]])
    for _ in range(5):
        release = library.release()
    assert [r.version if r else None for r in heard] == [None, release.version]


def test_waiting_for_a_first_release_costs_nothing(tmp_path, keypair, usage):
    """A fresh kiosk waits for its first release (a stick, a sync) with the pages thread
    looking every `every` seconds, not spinning: it once woke itself up on every look."""
    from kiosk.web import create_app

    app = create_app(device_settings(tmp_path, f"{keypair[0]}.pub"), usage=usage)
    www = tmp_path / "www"
    pages = front.Pages(app, www)
    library = app.extensions["kiosk.library"]
    library.listeners.append(lambda release: front.publish_release(www, release))
    library.listeners.append(pages.stale)
    looks = []
    original = pages.refresh
    pages.refresh = lambda: looks.append(1) or original()
    thread = pages.run(every=0.5)
    time.sleep(1.2)
    pages.stopped.set()
    pages.wake.set()
    thread.join(5)
    assert 1 <= len(looks) <= 4, len(looks)
    assert (www / "media").is_dir() and not any((www / "media").iterdir())
