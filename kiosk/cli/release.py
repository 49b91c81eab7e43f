"""``kiosk release``: build, check, install and roll back signed content releases."""

from __future__ import annotations

from pathlib import Path

import click

from kiosk.cli.base import KioskGroup, pass_settings, trusted


@click.group(cls=KioskGroup)
def release() -> None:
    """Build, check and install signed content releases."""


@release.command()
@click.argument("key", type=click.Path(dir_okay=False))
def keygen(key: str) -> None:
    """Make a signing key KEY (keep it secret) and KEY.pub (give it to every kiosk)."""
    from kiosk.formats.manifest import generate_key

    public = generate_key(key)
    click.echo(f"Wrote the private key {key} and the public key {public.source} (id {public.id}).")


@release.command()
@click.argument("src", type=click.Path(file_okay=False))
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--key", required=True, type=click.Path(dir_okay=False), help="Private signing key.")
@click.option("--version", "version", type=int, help="Release number (default: the time, UTC).")
@click.option("--expires-days", type=int, help="Days the release stays valid (default 365).")
@click.option("--cache", type=click.Path(file_okay=False), help="Speech cache folder.")
@pass_settings
def build(settings, src, out, key, version, expires_days, cache) -> None:
    """Check the content in SRC, speak it, and write a signed release to OUT."""
    from kiosk.content.build import build_release
    from kiosk.speech import Speaker

    speaker = Speaker(
        cache or settings.speech_cache_dir,
        rate=settings.speech_rate,
        pitch=settings.speech_pitch,
        bitrate=settings.mp3_bitrate,
    )
    result = build_release(
        src,
        out,
        key,
        speaker,
        version=version,
        expires_days=expires_days or settings.release_expiry_days,
        workers=settings.speech_workers,
        progress=lambda msg: click.echo(msg, err=True),
        portal_url=settings.portal_url,
        wifi_name=settings.wifi_ssid,
    )
    for warning in result.warnings:
        click.echo(str(warning), err=True)
    click.echo(
        f"Built release {result.version} in {out}: {result.guides} guides in "
        f"{result.languages} languages, {result.audio_ms / 60000:.1f} minutes of audio, "
        f"{result.files} files, {result.bytes / 1e6:.1f} MB, in {result.seconds:.1f} s."
    )


@release.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--pubkey", multiple=True, type=click.Path(dir_okay=False), help="Trusted key.")
@pass_settings
def verify(settings, directory, pubkey) -> None:
    """Check a release folder's signature, expiry and every file."""
    from kiosk.formats.manifest import verify_release

    manifest = verify_release(directory, trusted(settings, pubkey))
    click.echo(
        f"Release {manifest.version} is intact and signed by a trusted key "
        f"({len(manifest.files)} files, valid until {manifest.expires.date()})."
    )


@release.command("radio-pack")
@click.argument("version")
@click.argument("out", type=click.Path(file_okay=False))
@click.option(
    "--root",
    type=click.Path(file_okay=False),
    help="Headquarters' sync root, where VERSION is published (needed when it is a number).",
)
@click.option("--channel", default="stable", show_default=True, help="VERSION's channel.")
@click.option("--pubkey", multiple=True, type=click.Path(dir_okay=False), help="Trusted key.")
@pass_settings
def radio_pack(settings, version, out, root, channel, pubkey) -> None:
    """Write a release's guides for community radio into OUT: per language, each guide's track
    at broadcast loudness (EBU R128) and a script of its words.

    VERSION is a release folder, or a release number published under --root.
    """
    from kiosk.content.radio import find_release
    from kiosk.content.radio import radio_pack as make_pack

    folder = find_release(version, Path(root) if root else None, channel)
    pack = make_pack(folder, Path(out), trusted(settings, pubkey),
                     progress=lambda msg: click.echo(msg, err=True))  # fmt: skip
    text_only = f" ({len(pack.text_only)} text only)" if pack.text_only else ""
    click.echo(
        f"Wrote the radio pack of release {pack.version} to {out}: {pack.languages} languages"
        f"{text_only}, {pack.tracks} tracks, {pack.audio_ms / 60000:.1f} minutes of audio, "
        f"{pack.bytes / 1e6:.1f} MB, in {pack.seconds:.1f} s."
    )


@release.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--pubkey", multiple=True, type=click.Path(dir_okay=False), help="Trusted key.")
@pass_settings
def install(settings, directory, pubkey) -> None:
    """Verify the release in DIRECTORY and make it the one this kiosk shows."""
    from kiosk.device.install import ReleaseStore

    manifest = ReleaseStore(settings.data_dir).install(directory, trusted(settings, pubkey))
    click.echo(f"Release {manifest.version} is installed and live.")


@release.command()
@click.option("--pubkey", multiple=True, type=click.Path(dir_okay=False), help="Trusted key.")
@pass_settings
def rollback(settings, pubkey) -> None:
    """Go back to the release that was live before the current one."""
    from kiosk.device.install import ReleaseStore

    version = ReleaseStore(settings.data_dir).rollback(trusted(settings, pubkey))
    click.echo(f"Release {version} is live again.")


@release.command()
@pass_settings
def status(settings) -> None:
    """Show which release is live and which one a rollback would bring back."""
    from kiosk.device.install import ReleaseStore

    store = ReleaseStore(settings.data_dir)
    if store.recover() is None:
        click.echo("A release is being installed right now; this may change in a moment.", err=True)
    click.echo(f"data folder: {Path(settings.data_dir)}")
    click.echo(f"live release: {store.current_version or 'none'}")
    click.echo(f"previous release: {store.previous_version or 'none'}")
    click.echo(f"highest ever installed: {store.highest() or 'none'}")
