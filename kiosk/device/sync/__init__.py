"""Sync with headquarters: signed releases come in, usage snapshots and a heartbeat go out.

Over SSH, rsync moves only what changed (delta transfer, resumable with ``--partial`` and
``--delay-updates``). The SSH options come from a ``Peer`` (host, port, user, key file),
with headquarters' host key pinned in a known_hosts file and BatchMode on, so a kiosk never
asks a question nobody is there to answer and never trusts a key it has not been given.
By USB stick the layout is the same, so one code path serves both.

Layout (headquarters' sync root, or the root of a USB stick)::

    releases/<channel>/LATEST         the newest version number, one line
    releases/<channel>/<version>/     a signed release folder
    inbox/<device>/usage-<day>.json   what a device sends (see docs/usage.md)
    inbox/<device>/heartbeat.json

Every sync, whoever starts it (the timer, the USB stick's unit, the librarian's button), runs
through ``run``: one lock, figures sent even when the release is refused, the outcome recorded.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from kiosk.device.sync.fetch import pull
from kiosk.device.sync.outbox import heartbeat, outbox_files, prepare_outbox, push
from kiosk.device.sync.state import (
    MAX_BACKOFF,
    SyncBusy,
    due,
    in_words,
    read_state,
    record,
    sync_lock,
    write_state,
)
from kiosk.device.sync.stick import StickRefused, path_checker, save_on_stick
from kiosk.device.sync.transport import RSYNC_BASE, Peer, SyncFailed, Transfer, rsync, ssh_command
from kiosk.errors import KioskError, ReleaseRejected

__all__ = ["MAX_BACKOFF", "RSYNC_BASE", "Peer", "StickRefused", "SyncBusy",
           "SyncFailed", "Transfer", "due", "heartbeat", "prepare_outbox", "pull", "push",
           "read_state", "record", "rsync", "run", "ssh_command", "sync_over_ssh", "sync_usb",
           "write_state"]  # fmt: skip


def _first_lower(text: str) -> str:
    return text[:1].lower() + text[1:] if text[1:2].islower() or text[1:2] == " " else text


def _own_files(exc: OSError) -> SyncFailed:
    """The kiosk's own disk failed (full, or worn out): say so, in one sentence."""
    return SyncFailed(f"The kiosk could not write its own files: {exc.strerror}.")


def _sentence(done: str | None, problem: str | None, sent: str | None, unsent: str | None):
    """One sentence for a sync's two halves: what came in (or why not), what went out."""
    if not done and not problem:
        return unsent.rstrip(".")
    first = done[:1].upper() + done[1:] if done else problem.rstrip(".")
    if sent:
        return f"{first}; {sent}"
    if unsent == problem:  # one cause stopped both halves: say it once
        return f"{first}; the usage figures could not be sent either"
    joiner = ", but " if done else "; "
    return f"{first}{joiner}{_first_lower(unsent.rstrip('.'))}"


def sync_over_ssh(settings, trusted, progress=False) -> str:
    """Pull the newest release, then push figures and heartbeat whatever the pull did."""

    def connection(key: str) -> Peer:
        return Peer(settings.hq_host, settings.hq_user, key, settings.hq_port)

    known = settings.hq_known_hosts
    done = problem = None
    code = 0
    got = Transfer()
    try:
        version, got = pull(connection(settings.hq_read_key), known, settings, trusted,
                            progress=progress)  # fmt: skip
        done = f"installed release {version}" if version else "no newer release"
    except (KioskError, OSError) as exc:
        exc = exc if isinstance(exc, KioskError) else _own_files(exc)
        problem, code = exc.message, exc.exit_code
        if isinstance(exc, ReleaseRejected):
            problem = f"The release was refused: {_first_lower(exc.message)}"
    news = (problem is None, problem or done)
    try:
        sent = push(connection(settings.hq_write_key), known, settings, progress=progress,
                    news=news)  # fmt: skip
    except KioskError as exc:
        why = _sentence(done, problem, None, exc.message)
        raise SyncFailed(f"{why}.", code or exc.exit_code) from None
    if problem:
        raise SyncFailed(_sentence(None, problem, "the usage figures were sent", None) + ".", code)
    return f"{done}; sent usage figures ({got.total + sent.total} bytes on the wire)"


def sync_usb(settings, trusted, stick: str | os.PathLike[str]) -> str:
    """The same exchange with a USB stick: install its release, leave figures on it."""
    stick = Path(stick)
    if not stick.is_dir() or not any(os.path.lexists(stick / n) for n in ("releases", "inbox")):
        raise StickRefused(f"{stick} does not look like a kiosk stick (no releases/ or inbox/).")
    channel = settings.release_channel
    done, problem = "the stick holds no release for this kiosk", None
    if os.path.lexists(stick / "releases" / channel / "LATEST"):
        try:
            version, _ = pull(None, None, settings, trusted, root=str(stick),
                              check=path_checker(stick, channel), owner="The stick's")  # fmt: skip
            done = f"installed release {version}" if version else "no newer release"
        except (KioskError, OSError) as exc:
            exc = exc if isinstance(exc, KioskError) else _own_files(exc)
            done, problem = None, exc.message
            if isinstance(exc, ReleaseRejected):
                problem = f"The stick's release was refused: {_first_lower(exc.message)}"
    outbox = prepare_outbox(settings, news=(problem is None, problem or done))
    try:
        save_on_stick(stick, ["inbox", settings.device_name], outbox_files(outbox))
    except StickRefused as exc:
        raise StickRefused(_sentence(done, problem, None, exc.message) + ".") from None
    sent = "the usage figures were saved on the stick"
    if problem:  # whatever a stick does wrong is a refusal
        raise SyncFailed(_sentence(None, problem, sent, None) + ".", exit_code=3)
    return _sentence(done, None, sent, None)


def run(settings, trusted, usb: str | os.PathLike[str] | None = None, progress=False) -> str:
    """Sync under the kiosk's one lock and record how it went; raise what went wrong.

    A USB sync is recorded too, but does not move headquarters' backoff. A sync that finds
    another one running (SyncBusy) changes nothing and records nothing.
    """
    data = settings.data_dir
    label = "USB: " if usb else ""
    with sync_lock(data):
        try:
            if usb:
                message = sync_usb(settings, trusted, usb)
            else:
                message = sync_over_ssh(settings, trusted, progress=progress)
        except (KioskError, OSError) as exc:
            exc = exc if isinstance(exc, KioskError) else _own_files(exc)
            now = time.time()
            state = record(data, False, label + exc.message, now=now, backoff=not usb)
            if usb:
                raise exc from None
            wait = in_words(state["next_attempt"] - now)
            raise SyncFailed(f"{exc.message} Next try in {wait}.", exc.exit_code) from None
        record(data, True, label + message, backoff=not usb)
        return message
