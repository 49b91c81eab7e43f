"""Verify-then-switch: every way a release can be bad is refused, the live one untouched."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk.device.install import ReleaseStore
from kiosk.errors import ReleaseNotFound, ReleaseRejected
from kiosk.formats.manifest import MANIFEST, SIGNATURE, verify_release
from tests.conftest import make_release, run_kiosk


@pytest.fixture
def trusted(keypair):
    return [keypair[1]]


@pytest.fixture
def store(tmp_path, keypair, trusted):
    """A device with release 5 live."""
    store = ReleaseStore(tmp_path / "data")
    store.install(make_release(tmp_path / "r5", keypair[0], 5), trusted)
    return store


def live_files(store: ReleaseStore) -> dict[str, bytes]:
    root = store.active()
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def resign(root, key_path, edit):
    """Change the manifest with ``edit`` and sign it again with ``key_path``."""
    from kiosk.formats.manifest import load_private_key

    data = json.loads((root / MANIFEST).read_text())
    edit(data)
    body = (json.dumps(data, indent=1, sort_keys=True) + "\n").encode()
    (root / MANIFEST).write_bytes(body)
    key = load_private_key(key_path)
    from kiosk.formats.manifest import PublicKey

    kid = PublicKey(key.public_key(), "").id
    import base64

    sig = base64.b64encode(key.sign(body)).decode()
    (root / SIGNATURE).write_text(f"ed25519 {kid} {sig}\n")


def test_install_makes_the_release_live_and_keeps_the_previous(store, tmp_path, keypair, trusted):
    assert store.current_version == 5
    store.install(make_release(tmp_path / "r6", keypair[0], 6), trusted)
    assert store.current_version == 6
    assert store.previous_version == 5
    assert os.path.islink(store.root / "current")
    assert os.readlink(store.root / "current") == "releases/6"
    verify_release(store.active(), trusted)
    assert json.loads(store.state_file.read_text()) == {"highest": 6}


def test_a_release_made_before_format_2_still_installs(store, tmp_path, keypair, trusted):
    """Kiosks read format 1 (every guide in every language, the unicode61 search index)."""
    release = make_release(tmp_path / "r1", keypair[0], 7)
    resign(release, keypair[0], lambda d: d.update(format=1))
    assert store.install(release, trusted).version == 7


def test_install_copies_only_listed_files_and_keeps_two_releases(store, tmp_path, keypair, trusted):
    for version in (6, 7):
        store.install(make_release(tmp_path / f"r{version}", keypair[0], version), trusted)
    assert sorted(p.name for p in store.releases.iterdir()) == ["6", "7"]
    assert sorted(live_files(store)) == ["audio/a.mp3", "catalog.json", MANIFEST, SIGNATURE]


def test_rollback_goes_back_and_refuses_to_reinstall_old(store, tmp_path, keypair, trusted):
    r6 = make_release(tmp_path / "r6", keypair[0], 6)
    store.install(r6, trusted)
    assert store.rollback(trusted) == 5
    assert store.current_version == 5 and store.previous_version == 6
    assert store.highest() == 6
    with pytest.raises(ReleaseRejected, match="not newer"):
        store.install(make_release(tmp_path / "r6b", keypair[0], 6), trusted)


def test_rollback_without_previous_is_explained(store, trusted):
    with pytest.raises(ReleaseNotFound, match="no earlier release"):
        store.rollback(trusted)


def test_nothing_installed_is_explained(tmp_path):
    with pytest.raises(ReleaseNotFound, match="No release is installed yet"):
        ReleaseStore(tmp_path / "empty").active()


def _tamper_cases():
    """(name, how to break a good release, words the librarian reads)."""

    def flip_byte(root, key, other):
        data = bytearray((root / "audio/a.mp3").read_bytes())
        data[10] ^= 1
        (root / "audio/a.mp3").write_bytes(bytes(data))

    def no_signature(root, key, other):
        (root / SIGNATURE).unlink()

    def malformed_signature(root, key, other):
        (root / SIGNATURE).write_text("ed25519 abc not-base64!!\n")

    def unknown_key(root, key, other):
        resign(root, other, lambda d: None)

    def signature_over_other_bytes(root, key, other):
        body = (root / MANIFEST).read_bytes()
        (root / MANIFEST).write_bytes(body.replace(b'"version": 9', b'"version": 99'))

    def missing_file(root, key, other):
        (root / "audio/a.mp3").unlink()

    def extra_file(root, key, other):
        (root / "audio/extra.mp3").write_bytes(b"sneaky")

    def resized_file(root, key, other):
        with (root / "audio/a.mp3").open("ab") as fh:
            fh.write(b"more")

    def truncated_file(root, key, other):
        (root / "audio/a.mp3").write_bytes(b"x" * 50)

    def dotdot_path(root, key, other):
        resign(root, key, lambda d: d["files"][0].update(path="../outside.json"))

    def absolute_path(root, key, other):
        resign(root, key, lambda d: d["files"][0].update(path="/etc/passwd"))

    def backslash_path(root, key, other):
        resign(root, key, lambda d: d["files"][0].update(path="audio\\a.mp3"))

    def nul_path(root, key, other):
        resign(root, key, lambda d: d["files"][0].update(path="audio/a\u0000.mp3"))

    def symlink(root, key, other):
        (root / "audio/a.mp3").unlink()
        (root / "audio/a.mp3").symlink_to("/etc/hostname")

    def symlinked_folder(root, key, other):
        shutil.move(root / "audio", root.parent / "elsewhere")
        (root / "audio").symlink_to(root.parent / "elsewhere")

    def fifo(root, key, other):
        os.mkfifo(root / "audio/pipe")

    def device(root, key, other):
        if os.geteuid() != 0:
            pytest.skip("making a device node needs root")
        os.mknod(root / "audio/dev", 0o600 | 0o020000, os.makedev(1, 3))

    def lower_version(root, key, other):
        resign(root, key, lambda d: d.update(version=4))

    def same_version(root, key, other):
        resign(root, key, lambda d: d.update(version=5))

    def expired(root, key, other):
        resign(root, key, lambda d: d.update(expires="2020-01-01T00:00:00Z"))

    def unknown_format(root, key, other):
        resign(root, key, lambda d: d.update(format=3))

    def huge_manifest(root, key, other):
        resign(root, key, lambda d: d.update(padding="x" * (1024 * 1024)))

    def not_json(root, key, other):
        resign(root, key, lambda d: None)
        from kiosk.formats.manifest import load_private_key

        body = b"this is not json"
        (root / MANIFEST).write_bytes(body)
        k = load_private_key(key)
        import base64

        sig = (root / SIGNATURE).read_text().split()
        sig[2] = base64.b64encode(k.sign(body)).decode()
        (root / SIGNATURE).write_text(" ".join(sig) + "\n")

    return [
        ("flipped byte", flip_byte, "does not match its checksum"),
        ("missing signature", no_signature, "no signature"),
        ("malformed signature", malformed_signature, "signature file is damaged"),
        ("unknown key", unknown_key, "key this kiosk does not trust"),
        ("signature over other bytes", signature_over_other_bytes, "changed after it was signed"),
        ("missing file", missing_file, "incomplete: audio/a.mp3 is missing"),
        ("extra file", extra_file, "file it does not list: audio/extra.mp3"),
        ("resized file", resized_file, "has 104 bytes, expected 100"),
        ("truncated file", truncated_file, "has 50 bytes, expected 100"),
        ("dot-dot path", dotdot_path, "unsafe file name"),
        ("absolute path", absolute_path, "unsafe file name"),
        ("backslash path", backslash_path, "unsafe file name"),
        ("NUL in path", nul_path, "unsafe file name"),
        ("symlink", symlink, "contains a link"),
        ("symlinked folder", symlinked_folder, "contains a link"),
        ("fifo", fifo, "special file"),
        ("device", device, "special file"),
        ("lower version", lower_version, "not newer than the one already installed"),
        ("same version", same_version, "not newer than the one already installed"),
        ("expired", expired, "expired on 2020-01-01"),
        ("unknown format", unknown_format, "format 3, which this kiosk does not know"),
        ("manifest over 1 MiB", huge_manifest, "too large"),
        ("manifest not JSON", not_json, "not readable"),
    ]


@pytest.mark.parametrize(
    ("breakage", "words"),
    [pytest.param(fn, words, id=name) for name, fn, words in _tamper_cases()],
)
def test_bad_release_is_refused_and_live_release_untouched(
    store, tmp_path, keypair, other_keypair, trusted, breakage, words
):
    before = live_files(store)
    bad = make_release(tmp_path / "bad", keypair[0], 9)
    breakage(bad, keypair[0], other_keypair[0])
    with pytest.raises(ReleaseRejected) as info:
        store.install(bad, trusted)
    assert words in str(info.value)
    assert str(info.value).endswith(".")  # one plain sentence (or two)
    assert store.current_version == 5
    assert live_files(store) == before
    assert sorted(p.name for p in store.releases.iterdir()) == ["5"]


def test_no_trusted_key_is_explained(tmp_path, keypair):
    with pytest.raises(ReleaseRejected, match="trusts no signing key"):
        ReleaseStore(tmp_path / "d").install(make_release(tmp_path / "r", keypair[0], 1), [])


def test_key_rotation_accepts_any_trusted_key(tmp_path, keypair, other_keypair):
    store = ReleaseStore(tmp_path / "d")
    both = [keypair[1], other_keypair[1]]
    store.install(make_release(tmp_path / "r1", keypair[0], 1), both)
    store.install(make_release(tmp_path / "r2", other_keypair[0], 2), both)
    assert store.current_version == 2


def test_verify_reads_no_more_than_declared_size(tmp_path, keypair, trusted):
    """A file grown after signing is refused by its size, before its bytes are read."""
    root = make_release(tmp_path / "r", keypair[0], 1)
    with (root / "audio/a.mp3").open("ab") as fh:
        fh.write(b"\0" * 10_000_000)
    before = _bytes_read()
    with pytest.raises(ReleaseRejected, match="expected 100"):
        verify_release(root, trusted)
    assert _bytes_read() - before < 1_000_000  # the kernel's count of what this process read


def _bytes_read() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def test_leftovers_of_an_interrupted_install_are_cleaned(store, tmp_path):
    (store.releases / ".incoming-9-123").mkdir()
    (store.releases / ".incoming-9-123" / "half.mp3").write_bytes(b"x")
    (store.releases / "9").mkdir()  # renamed but never made live
    os.symlink("releases/9", store.root / ".current.123")
    removed = store.recover()
    assert sorted(removed) == [".current.123", "releases/.incoming-9-123", "releases/9"]
    assert sorted(p.name for p in store.releases.iterdir()) == ["5"]
    assert store.current_version == 5


INSTALLER = """
import sys
from kiosk.device.install import ReleaseStore
from kiosk.formats.manifest import load_public_key
ReleaseStore(sys.argv[1]).install(sys.argv[2], [load_public_key(sys.argv[3])])
"""


def test_kill_9_at_any_moment_leaves_old_or_new_release_complete(tmp_path, keypair, trusted):
    """Kill the installer at random moments: never a mix, never nothing, always recoverable."""
    data = tmp_path / "data"
    store = ReleaseStore(data)
    files = {f"audio/{n:03}.mp3": os.urandom(20_000) for n in range(150)}
    files["catalog.json"] = b"{}"
    store.install(make_release(tmp_path / "r1", keypair[0], 1, files), trusted)
    new = make_release(tmp_path / "r2", keypair[0], 2, {**files, "catalog.json": b'{"v": 2}'})
    pub = f"{keypair[0]}.pub"

    # Time one full install to spread the kills over all of it.
    started = time.monotonic()
    spare = ReleaseStore(tmp_path / "timing")
    subprocess.run([sys.executable, "-c", INSTALLER, str(spare.root), str(new), pub], check=True)
    full = time.monotonic() - started

    rng = random.Random(7)
    seen = {1: 0, 2: 0}
    for _ in range(25):
        proc = subprocess.Popen([sys.executable, "-c", INSTALLER, str(data), str(new), pub])
        time.sleep(rng.uniform(0, full * 1.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        version = store.current_version
        assert version in (1, 2)
        verify_release(store.active(), trusted)  # complete, every byte as signed
        seen[version] += 1
        store.recover()
        assert not [p for p in store.releases.iterdir() if p.name.startswith(".")]
        if version == 2:  # go back to 1 for the next round
            shutil.rmtree(data)
            store.install(make_release(tmp_path / "r1", keypair[0], 1, files), trusted)
    assert seen[1] and seen[2], f"kills never landed on both sides: {seen}"


def test_cli_install_verify_rollback_and_refusal(tmp_path, keypair):
    env = {"KIOSK_DATA_DIR": str(tmp_path / "data"), "KIOSK_TRUSTED_KEYS": f"{keypair[0]}.pub"}
    r1 = make_release(tmp_path / "r1", keypair[0], 1)
    r2 = make_release(tmp_path / "r2", keypair[0], 2)
    ok = run_kiosk("release", "verify", str(r1), "--pubkey", f"{keypair[0]}.pub")
    assert ok.returncode == 0 and "Release 1 is intact" in ok.stdout
    assert run_kiosk("release", "install", str(r1), env=env).returncode == 0
    assert run_kiosk("release", "install", str(r2), env=env).returncode == 0
    again = run_kiosk("release", "install", str(r1), env=env)
    assert again.returncode == 3
    assert again.stderr.startswith("Error: This release (version 1) is not newer")
    assert "Traceback" not in again.stderr
    back = run_kiosk("release", "rollback", env=env)
    assert back.returncode == 0 and "Release 1 is live again" in back.stdout
    status = run_kiosk("release", "status", env=env)
    assert "live release: 1" in status.stdout and "highest ever installed: 2" in status.stdout


def test_expiry_is_checked_against_the_clock(tmp_path, keypair, trusted):
    root = make_release(
        tmp_path / "r", keypair[0], 1, expires=dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    )
    verify_release(root, trusted)
    with pytest.raises(ReleaseRejected, match="expired"):
        verify_release(root, trusted, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=2))
