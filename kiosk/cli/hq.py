"""``kiosk hq``: headquarters' commands (add kiosks, publish, ingest, sticks, report)."""

from __future__ import annotations

from pathlib import Path

import click

from kiosk.cli.base import KioskGroup, pass_settings, trusted


@click.group(cls=KioskGroup)
def hq() -> None:
    """Headquarters: add kiosks, publish releases, take in what kiosks send, report."""


hq_root = click.option(
    "--root", type=click.Path(file_okay=False), default=".", show_default=True,
    help="Headquarters' sync root (releases/, inbox/, devices/).",
)  # fmt: skip


@hq.command("add-device")
@click.argument("name")
@hq_root
@click.option("--authorized-keys", type=click.Path(dir_okay=False), help="Append the lines here.")
@click.option("--country", default="", help="Two-letter ISO code of its country (NP, MX, MD).")
@click.option("--place", default="", help="The library or centre and its town.")
def hq_add_device(name: str, root: str, authorized_keys: str | None, country, place) -> None:
    """Make a kiosk's SSH keys and print the authorized_keys lines that confine them."""
    from kiosk.hq import add_device

    lines = add_device(Path(root), name, country=country, place=place)
    if authorized_keys:
        with open(authorized_keys, "a", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
    click.echo("\n".join(lines))
    click.echo(f"Keys for the kiosk are in {Path(root) / 'devices' / name}.", err=True)


@hq.command("publish")
@click.argument("src", type=click.Path(file_okay=False))
@click.option("--key", required=True, type=click.Path(dir_okay=False), help="Signing key.")
@hq_root
@click.option("--channel", default="stable", show_default=True)
@click.option("--version", "version", type=int, help="Release number (default: the time).")
@click.option("--cache", type=click.Path(file_okay=False), help="Speech cache folder.")
@click.option(
    "--candidate",
    is_flag=True,
    help="Build and sign only; publish it from kiosk hq serve after a look.",
)
@pass_settings
def hq_publish(settings, src, key, root, channel, version, cache, candidate) -> None:
    """Build and sign a release from SRC into releases/<channel>/ and make it the latest."""
    from kiosk.hq import publish
    from kiosk.speech import Speaker

    speaker = Speaker(cache or settings.speech_cache_dir, rate=settings.speech_rate,
                      pitch=settings.speech_pitch, bitrate=settings.mp3_bitrate)  # fmt: skip
    result = publish(src, key, Path(root), channel, speaker, version=version,
                     progress=lambda m: click.echo(m, err=True), portal_url=settings.portal_url,
                     wifi_name=settings.wifi_ssid, candidate=candidate)  # fmt: skip
    if candidate:
        click.echo(f"Built release {result.version} on channel {channel}, not published: "
                   "open it in kiosk hq serve's Releases page, then publish it there.")  # fmt: skip
    else:
        click.echo(f"Published release {result.version} on channel {channel}.")


@hq.command("ingest")
@hq_root
@click.option("--inbox", type=click.Path(file_okay=False), help="Another inbox (a USB stick's).")
def hq_ingest(root: str, inbox: str | None) -> None:
    """Take in every kiosk's snapshots and heartbeats (safe to run again and again)."""
    from kiosk.hq import ingest

    _ingested(ingest(Path(root), Path(inbox) if inbox else None))


def _ingested(report: dict) -> None:
    click.echo(
        f"{report['ingested']} new or changed snapshot(s), {report['unchanged']} unchanged, "
        f"{report['older']} older than what headquarters has (kept the newer), "
        f"{report['heartbeats']} heartbeat(s), {len(report['rejected'])} set aside."
    )
    for line in report["rejected"]:
        click.echo(f"set aside: {line}", err=True)


@hq.command("stick")
@click.argument("dest", type=click.Path(file_okay=False))
@hq_root
@click.option(
    "--channel",
    "channels",
    multiple=True,
    help="A channel to carry (repeat for more; default: every published one).",
)
@click.option(
    "--pubkey",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Public key releases are signed with (default: the trusted_keys setting).",
)
@pass_settings
def hq_stick(settings, dest: str, root: str, channels: tuple[str, ...], pubkey) -> None:
    """Write a USB stick for kiosks: the newest signed releases and an empty inbox, nothing else."""
    from kiosk.hq import make_stick

    stick = make_stick(Path(root), Path(dest), trusted(settings, pubkey), list(channels) or None)
    if stick.took_in is not None:
        click.echo("The stick still held kiosks' figures; they were taken in first:")
        _ingested(stick.took_in)
    for channel, manifest in stick.releases:
        click.echo(f"Release {manifest.version} of channel {channel}, valid until "
                   f"{manifest.expires.date()}.")  # fmt: skip
    click.echo(f"Wrote {stick.files} files ({stick.size / 1e6:.1f} MB) and an empty inbox/ "
               f"to {dest}. Unmount it before pulling it out.")  # fmt: skip


@hq.command("report")
@hq_root
def hq_report(root: str) -> None:
    """Reach so far: visits per kiosk, views per guide and language, kiosks' last word."""
    from kiosk.hq import reach

    data = reach(Path(root))
    for device, visits in data["visits"]:
        click.echo(f"visits  {device:24} {visits}")
    for guide, lang, views in data["views"]:
        click.echo(f"views   {guide:16} {lang:6} {views}")
    from kiosk.vocabulary import DIMENSIONS, STEPS

    for step in STEPS:
        click.echo(f"step      {step:14} {data['steps'].get(step, 0)} views")
    for dimension in DIMENSIONS:
        click.echo(f"dimension {dimension:14} {data['dimensions'].get(dimension, 0)} views")
    for device, beat, received in data["devices"]:
        info = __import__("json").loads(beat)
        click.echo(f"kiosk   {device:24} release {info.get('release')} · heard {received[:16]}")
    for device, name, message in data["rejected"]:
        click.echo(f"set aside {device}/{name}: {message}")


@hq.group("user", cls=KioskGroup)
def hq_user() -> None:
    """Staff accounts for headquarters' app (kiosk hq serve)."""


def _accounts(root: str):
    from kiosk.hq.accounts import Accounts

    return Accounts(Path(root))


@hq_user.command("add")
@click.argument("name")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["viewer", "publisher", "admin"]),
    help="viewer: reports; publisher: also releases; admin: also accounts, kiosks.",
)
@hq_root
@click.password_option("--password", prompt="Password (at least 12 characters)",
                       help="The password (asked for, twice, when not given).")  # fmt: skip
def hq_user_add(name: str, role: str, root: str, password: str) -> None:
    """Make a staff account (there are no default accounts or passwords)."""
    _accounts(root).add(name, role, password)
    click.echo(f"Account {name} ({role}) made. Sign in at kiosk hq serve's address.")


@hq_user.command("passwd")
@click.argument("name")
@hq_root
@click.password_option("--password", prompt="New password (at least 12 characters)",
                       help="The password (asked for, twice, when not given).")  # fmt: skip
def hq_user_passwd(name: str, root: str, password: str) -> None:
    """Set a new password for a staff account."""
    _accounts(root).set_password(name, password)
    click.echo(f"The password of {name} is set.")


@hq_user.command("list")
@hq_root
def hq_user_list(root: str) -> None:
    """Every staff account and its role."""
    for account in _accounts(root).accounts():
        click.echo(f"{account['name']:40} {account['role']:10} since {account['created'][:10]}")


@hq.command("serve")
@hq_root
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (put TLS in front of it for anything but 127.0.0.1).",
)
@click.option("--port", default=8090, show_default=True, type=int)
@click.option(
    "--content",
    type=click.Path(file_okay=False, exists=True),
    help="The content source staff edit, for the content page.",
)
@click.option(
    "--pubkey",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True),
    help="Public key releases are signed with (to check, preview and publish them).",
)
def hq_serve(root: str, host: str, port: int, content: str | None, pubkey) -> None:
    """Headquarters' app for staff: the fleet, reach, releases (waitress)."""
    import waitress

    from kiosk.formats.keys import load_public_key
    from kiosk.hq.web import create_hq_app

    keys = [load_public_key(p) for p in pubkey]
    app = create_hq_app(Path(root), content=content, trusted=keys)
    click.echo(f"Headquarters' app on http://{host}:{port}/", err=True)
    waitress.serve(app, host=host, port=port, threads=4, ident="kiosk-hq")
