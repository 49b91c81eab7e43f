"""What every ``kiosk`` command group shares: settings passed down, and errors as sentences."""

from __future__ import annotations

import sys

import click

from kiosk.config import Settings
from kiosk.errors import ContentInvalid, KioskError

pass_settings = click.make_pass_decorator(Settings)


def printable(text: str) -> str:
    """``text`` with every character that could steer a terminal escaped, line breaks kept.

    Messages can carry words from a release, a stick or headquarters; the sentences that
    quote them escape them already, and this is the last net before the terminal.
    """
    from kiosk.releases.manifest import shown

    return "\n".join(shown(line, limit=None) for line in text.split("\n"))


class KioskGroup(click.Group):
    """Turn every KioskError into its plain message and exit code, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ContentInvalid as exc:
            click.echo(printable(exc.message), err=True)
            sys.exit(exc.exit_code)
        except KioskError as exc:
            click.echo(f"Error: {printable(exc.message)}", err=True)
            sys.exit(exc.exit_code)


def trusted(settings: Settings, pubkeys: tuple[str, ...]):
    """The keys a release must be signed with: the settings', and any given on the command."""
    from kiosk.releases.manifest import trusted_keys

    return trusted_keys(settings, pubkeys)
