"""The ``kiosk`` command: one entry point for the device and for headquarters."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import sys
import time
from pathlib import Path

import click

from kiosk import __version__
from kiosk.cli.base import KioskGroup, pass_settings, printable, trusted
from kiosk.cli.content import content as content_group
from kiosk.cli.content import studio as studio_command
from kiosk.cli.hq import hq
from kiosk.cli.release import release
from kiosk.config import SETTINGS, Settings, load_settings
from kiosk.errors import KioskError


@click.group(cls=KioskGroup)
@click.version_option(__version__, prog_name="kiosk")
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    envvar="KIOSK_CONFIG",
    help="Settings file (TOML). Default: /etc/first-mile-kiosk/kiosk.toml if it exists.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    help="Folder for everything the device writes (setting data_dir, KIOSK_DATA_DIR).",
)
@click.pass_context
def main(ctx: click.Context, config: str | None, data_dir: str | None) -> None:
    """First Mile kiosk: safer-migration guides, offline, in many languages."""
    try:
        ctx.obj = load_settings(config, data_dir=data_dir)
    except KioskError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(exc.exit_code)


@main.command("settings")
@pass_settings
def settings_cmd(settings: Settings) -> None:
    """Show every setting, its value and what it does."""
    for setting in SETTINGS:
        click.echo(f"{setting.name} = {settings[setting.name]!r}")
        click.echo(f"    {setting.help} (environment: {setting.env})")


@main.command()
@click.option("--host", help="Address to listen on (setting host).")
@click.option("--port", type=int, help="Port to listen on (setting port).")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Device data folder.")
@click.option(
    "--proxied",
    is_flag=True,
    help="Behind the device's front server (kiosk-proxy): keep <data_dir>/www for it, and take "
    "a phone's address from its X-Forwarded-For.",
)
@click.option(
    "--counts-socket",
    type=click.Path(dir_okay=False),
    help="With --proxied: where the front server reports the pages it sent by itself.",
)
@pass_settings
def serve(
    settings: Settings,
    host: str | None,
    port: int | None,
    data_dir: str | None,
    proxied: bool,
    counts_socket: str | None,
) -> None:
    """Serve the live release to phones and the touchscreen (waitress)."""
    import signal

    import waitress

    from kiosk.device.install import ReleaseStore
    from kiosk.device.usage import Usage, write_snapshots
    from kiosk.device.web import create_app
    from kiosk.device.web.admin import NOTICE_UPLOAD

    settings = settings.replace(host=host, port=port, data_dir=data_dir)
    data = Path(settings.data_dir)
    ReleaseStore(data).recover()
    usage = Usage(
        data / "usage.db",
        flush_seconds=settings.usage_flush_seconds,
        snapshots=lambda: write_snapshots(
            data / "usage.db", data / "outbox", settings.device_name, settings.k_anonymity
        ),
        snapshot_seconds=settings.snapshot_minutes * 60,
        k=settings.k_anonymity,
    )
    app = create_app(settings, usage=usage)
    _quiet_server_logs()
    proxy: dict = {}
    front_counts = None
    if proxied:
        front_counts = _follow_for_front(app, data / "www", counts_socket)
        # Only nginx on this device connects from 127.0.0.1 with the header, and it sets it to
        # the phone's own address (the captive portal's "Continue" is per phone, in memory).
        proxy = {"trusted_proxy": "127.0.0.1", "trusted_proxy_headers": {"x-forwarded-for"},
                 "trusted_proxy_count": 1}  # fmt: skip

    def stop(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    _warm(app)
    # What was loaded to start (the release, templates, the index's words) lives as long as
    # the process: out of the collector's sight, a full collection no longer walks it. Those
    # walks held every phone up on the 1/8-core Pi stand-in (200 requests/s: p99 57-201 ms
    # before, 25-45 ms after; benchmarks/load_bench.py, docs/performance.md).
    gc.freeze()
    click.echo(f"{gc.get_freeze_count():,} objects kept out of the collector's walks.", err=True)
    from kiosk.device.watchdog import start_watchdog

    start_watchdog(f"http://127.0.0.1:{settings.port}/")
    click.echo(f"Serving the guides on http://{settings.host}:{settings.port}/", err=True)
    try:
        waitress.serve(
            app,
            host=settings.host,
            port=settings.port,
            threads=settings.threads,
            ident="kiosk",
            max_request_header_size=16 * 1024,
            # The app refuses a body over 64 KB on every form but the librarian's notice,
            # which may carry a recording; phones reach it through nginx, which allows 64 KB.
            max_request_body_size=NOTICE_UPLOAD,
            channel_timeout=30,
            clear_untrusted_proxy_headers=True,
            **proxy,
        )
    except KeyboardInterrupt:
        pass
    finally:
        if front_counts is not None:
            front_counts.drain()  # the pages nginx sent in the last moments count too
        # What was counted is written before the process ends, and the message says whether.
        if usage.close():
            click.echo("Stopped; counts saved.", err=True)
        else:
            # Only the reason: "counting waits in memory" stops being true as the process ends.
            reason = (usage.last_error or "").split(". ")[0].rstrip(".")
            waiting = usage.health()["waiting"]
            click.echo(f"Stopped; {waiting} counts could not be saved ({reason}).", err=True)


@main.command()
@click.option("--days", default=7, show_default=True, help="How many days back, today included.")
@click.option("--csv", "as_csv", is_flag=True, help="Every counter as CSV rows instead.")
@click.option("--snapshots", is_flag=True, help="Also write the days' snapshots to outbox/.")
@pass_settings
def stats(settings: Settings, days: int, as_csv: bool, snapshots: bool) -> None:
    """Show what was read, in which languages, when, and what people could not find."""
    from kiosk.device.stats import csv_rows, summary
    from kiosk.device.usage import write_snapshots

    data = Path(settings.data_dir)
    db = data / "usage.db"
    if not db.exists():
        click.echo("Nothing has been counted yet on this kiosk.")
        return
    if as_csv:
        import csv

        writer = csv.writer(sys.stdout)
        for row in csv_rows(db, days):
            writer.writerow(row)
    else:
        click.echo(summary(db, days, settings.k_anonymity))
    if snapshots:
        for path in write_snapshots(
            db, data / "outbox", settings.device_name, settings.k_anonymity, days=days
        ):
            click.echo(f"wrote {path}", err=True)


def _warm(app) -> None:
    """Each language searched once before the first phone is answered (kiosk.device.web.front)."""
    from kiosk.device.web.front import warm_search
    from kiosk.device.web.state import kiosk_of

    # No release, or one that does not verify: the pages say so, and there is nothing to ready.
    with contextlib.suppress(KioskError):
        started = time.monotonic()
        readied = warm_search(app, kiosk_of(app).library.release())
        took = (time.monotonic() - started) * 1000
        click.echo(f"Search readied in {readied} languages ({took:.0f} ms).", err=True)


def _follow_for_front(app, www: Path, counts_socket: str | None):
    """Keep <data_dir>/www equal to the live release (its files, the app's CSS and JS, the
    phone pages drawn once) for nginx, and count the pages nginx sends by itself (the
    receiver is returned, to be drained as the app stops)."""
    from kiosk.device.web import front
    from kiosk.device.web.common import STATIC, static_version
    from kiosk.device.web.counting import listen_to_front
    from kiosk.device.web.state import kiosk_of
    from kiosk.errors import ReleaseNotFound

    app.config["KIOSK_PROXIED"] = True
    library = kiosk_of(app).library
    pages = front.Pages(app, www)
    library.listeners.append(lambda release: front.publish_release(www, release))
    library.listeners.append(pages.stale)
    kiosk_of(app).pages_changed = [pages.stale]
    front.publish_static(www, STATIC, static_version())
    # Loading the live release tells the listeners above, whether it verifies or not (then
    # they empty www/media): no separate first publish.
    with contextlib.suppress(ReleaseNotFound):
        library.release()
    pages.run()
    return listen_to_front(app, Path(counts_socket)) if counts_socket else None


class _OncePerMinute(logging.Filter):
    """Lets a logger's warning through at most once a minute, saying how many were held back
    (waitress warns "Task queue depth" on every request while it is busy)."""

    def __init__(self, seconds: float = 60) -> None:
        super().__init__()
        self.seconds, self.last, self.held = seconds, float("-inf"), 0

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        if now - self.last < self.seconds:
            self.held += 1
            return False
        if self.held:
            record.msg = f"{record.msg} ({self.held} more like it in the last minute)"
        self.last, self.held = now, 0
        return True


def _quiet_server_logs() -> None:
    """No line per request: waitress's busy warnings once a minute at most. (waitress logs no
    client address; its access log is not used.)"""
    for name in ("waitress.queue", "waitress"):
        logging.getLogger(name).addFilter(_OncePerMinute())


class _JournalLevels(logging.Formatter):
    """Start each line with its syslog level (<4> for a warning): under systemd, journald files
    the line at that level (sd-daemon(3)), so `journalctl -p warning` shows what went wrong."""

    def format(self, record: logging.LogRecord) -> str:
        level = (
            3 if record.levelno >= logging.ERROR else 4 if record.levelno >= logging.WARNING else 6
        )
        return f"<{level}>{super().format(record)}"


def _log_to_stderr() -> None:
    handler = logging.StreamHandler()
    under_journald = bool(os.environ.get("JOURNAL_STREAM"))
    formatter = _JournalLevels if under_journald else logging.Formatter
    handler.setFormatter(formatter("%(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])


@main.command()
@click.option("--url", help="Page to show (default: this kiosk's touchscreen pages).")
@pass_settings
def display(settings: Settings, url: str | None) -> None:
    """Open the fullscreen touchscreen window (pywebview), with buttons and lights."""
    from kiosk.device.window import display as open_display

    _log_to_stderr()
    window = open_display(url or f"http://127.0.0.1:{settings.port}/screen/", settings)
    click.echo(f"Display closed ({window.reloads} reload(s) while it ran).", err=True)


@main.command()
@click.option("--usb", type=click.Path(file_okay=False), help="Sync with a USB stick here.")
@click.option("--now", is_flag=True, help="Try even while backing off after failures.")
@pass_settings
def sync(settings: Settings, usb: str | None, now: bool) -> None:
    """Fetch new guides and send usage figures: with headquarters, or with a USB stick.

    Exit codes: 0 done, 3 a release or the stick refused (figures still sent or saved when
    possible), 6 headquarters unreachable, 7 another sync was already running (nothing done).
    """
    from kiosk.device import sync as syncing

    if not usb and not settings.hq_host:
        raise syncing.SyncFailed("No headquarters is set (hq_host); use --usb with a stick.")
    if not usb and not now and not syncing.due(settings.data_dir):
        click.echo("Headquarters was unreachable a moment ago; waiting before trying again.")
        return
    keys = trusted(settings, ())
    try:
        message = syncing.run(settings, keys, usb=usb, progress=sys.stderr.isatty())
    except syncing.SyncBusy as exc:
        # Not an error: the sync that holds the lock does the work. Its own code tells
        # scripts and systemd that this one did nothing.
        click.echo(exc.message, err=True)
        sys.exit(exc.exit_code)
    click.echo(printable(message[0].upper() + message[1:] + "."))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object (what fab status reads).")
@pass_settings
def doctor(settings: Settings, as_json: bool) -> None:
    """How this kiosk is: release, software version, last sync, disk, temperature, uptime."""
    import json
    from dataclasses import asdict

    from kiosk.device.install import ReleaseStore
    from kiosk.device.sync import heartbeat

    beat = asdict(heartbeat(settings, ReleaseStore(settings.data_dir)))
    if as_json:
        click.echo(json.dumps(beat, sort_keys=True))
        return
    for key, value in beat.items():
        click.echo(f"{key}: {value}")


@main.group(cls=KioskGroup)
def services() -> None:
    """The device's system files: hotspot, captive DNS, firewall, systemd units."""


@services.command("render")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Write them here.")
@pass_settings
def services_render(settings: Settings, out: str) -> None:
    """Write every system file, rendered from the settings, under OUT (as it would be under /)."""
    from kiosk.device.services import mode, render
    from kiosk.files import write_atomic

    for rel, text in render(settings).items():
        # Each file is replaced whole, with its mode set before it appears under its name:
        # NetworkManager never sees a hotspot profile others could read.
        write_atomic(Path(out) / rel, text, mode=mode(rel))
        click.echo(f"/{rel}")


@main.group(cls=KioskGroup)
def admin() -> None:
    """The librarian's page: its password."""


@admin.command("set-password")
@click.password_option(
    "--password",
    prompt="New password for the librarian's page (at least 12 characters)",
    help="The password (asked for, twice, when not given).",
)
@pass_settings
def set_password(settings: Settings, password: str) -> None:
    """Set the librarian's password (there is no default one)."""
    from kiosk.device.admin import Auth

    Auth(settings.data_dir).set_password(password)
    click.echo("The password is set. Sign in as 'librarian' on the kiosk's screen.")


main.add_command(hq)
main.add_command(release)
main.add_command(content_group)
main.add_command(studio_command)
