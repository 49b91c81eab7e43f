"""The heartbeat: the kiosk's writer and headquarters' reader, tested against each other."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiosk.device.install import ReleaseStore
from kiosk.device.sync.outbox import heartbeat, prepare_outbox
from kiosk.formats import heartbeat as beats
from tests.conftest import device_settings


def test_what_the_kiosk_writes_headquarters_reads_back(tmp_path, fixture_release, keypair):
    """The device's own heartbeat, written to its outbox, read as headquarters reads it."""
    ReleaseStore(tmp_path).install(fixture_release, [keypair[1]])
    settings = device_settings(tmp_path, Path(f"{keypair[0]}.pub"), device_name="kiosk-7")
    written = heartbeat(settings, ReleaseStore(tmp_path), usage_health={"failures": 2,
                        "last_error": "The storage is full."})  # fmt: skip
    outbox = prepare_outbox(settings)
    raw = (outbox / beats.NAME).read_bytes()
    read = beats.decode(raw, "kiosk-7")
    assert read is not None
    assert read.release == ReleaseStore(tmp_path).current_version == written.release
    assert read.day == written.day and read.app_version == written.app_version
    assert read.disk_total and read.disk_free is not None and read.uptime
    again = beats.decode(beats.encode(written), "kiosk-7")
    assert again == written
    assert (again.failures, again.last_error) == (2, "The storage is full.")


def test_nothing_in_a_heartbeat_is_about_a_visitor(tmp_path, fixture_release, keypair):
    ReleaseStore(tmp_path).install(fixture_release, [keypair[1]])
    settings = device_settings(tmp_path, Path(f"{keypair[0]}.pub"))
    raw = (prepare_outbox(settings) / beats.NAME).read_bytes()
    assert set(json.loads(raw)) == {"format", "device", "day", "release", "app_version",
                                    "last_sync", "last_sync_ok", "disk_free", "disk_total",
                                    "temperature", "uptime", "errors"}  # fmt: skip


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"[1, 2]", b"null", b'{"format": 2, "release": 3}',
     b"[" * 100_000, b'{"pad": "' + b"x" * beats.MAX_BYTES + b'"}'],
)  # fmt: skip
def test_what_is_not_a_heartbeat_is_not_read(raw):
    assert beats.decode(raw, "kiosk-1") is None


def test_each_field_is_checked_and_bounded_and_the_folder_names_the_kiosk():
    sent = {
        "format": 1, "device": "somebody-else", "day": "yesterday", "release": True,
        "app_version": "v" * 10_000, "last_sync": 7, "last_sync_ok": "yes",
        "disk_free": -1, "disk_total": "big", "temperature": float("nan"), "uptime": -1e300,
        "errors": {"failures": -4, "last_error": ["a list"]}, "visitor": "10.42.0.5",
    }  # fmt: skip
    read = beats.decode(json.dumps(sent), "kiosk-1")
    assert read == beats.Heartbeat(
        device="kiosk-1", day=None, release=None, app_version="v" * beats.MAX_TEXT,
        last_sync="", last_sync_ok=None, disk_free=None, disk_total=None, temperature=None,
        uptime=None, errors={"failures": 0, "last_error": ""},
    )  # fmt: skip
    assert "visitor" not in beats.encode(read).decode()


def test_a_damaged_usage_database_still_sends_a_heartbeat_that_says_so(
    tmp_path, fixture_release, keypair
):
    """Counting's failures lived only in `kiosk serve`'s memory, so the heartbeat's `errors`
    was always empty; and a damaged usage.db stopped the snapshots and with them the
    heartbeat, so headquarters heard nothing at all. The sync reads usage.db whole for the
    snapshots: what it finds there goes out in the heartbeat, and the heartbeat goes out."""
    ReleaseStore(tmp_path).install(fixture_release, [keypair[1]])
    settings = device_settings(tmp_path, Path(f"{keypair[0]}.pub"))
    (tmp_path / "usage.db").write_bytes(b"SQLite format 3\x00" + b"\x13" * 4096)
    raw = (prepare_outbox(settings) / beats.NAME).read_bytes()
    read = beats.decode(raw, "kiosk-1")
    assert read.failures == 1
    assert "damaged" in read.last_error

    (tmp_path / "usage.db").unlink()
    from kiosk.device.usage import Usage

    usage = Usage(tmp_path / "usage.db", start=False)
    usage.close()
    read = beats.decode((prepare_outbox(settings) / beats.NAME).read_bytes(), "kiosk-1")
    assert (read.failures, read.last_error) == (0, "")
