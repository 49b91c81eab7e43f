"""What every ``kiosk`` command group shares: settings passed down, and errors as sentences."""

from __future__ import annotations

import sys

import click

from kiosk.config import Settings
from kiosk.errors import ContentInvalid, KioskError

pass_settings = click.make_pass_decorator(Settings)
# What only headquarters' machines install (pyproject.toml's [hq] extra): a kiosk has none.
HQ_PACKAGES = {"fabric", "paramiko", "invoke", "markdown_it", "mdurl", "nh3", "playwright"}


def printable(text: str) -> str:
    """``text`` with every character that could steer a terminal escaped, line breaks kept.

    Messages can carry words from a release, a stick or headquarters; the sentences that
    quote them escape them already, and this is the last net before the terminal.
    """
    from kiosk.formats.manifest import shown

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
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] not in HQ_PACKAGES:
                raise
            click.echo(
                f"Error: this command is headquarters' work and needs {exc.name}, which a "
                "kiosk does not install. Run it where first-mile-kiosk[hq] is installed.",
                err=True,
            )
            sys.exit(5)


def trusted(settings: Settings, pubkeys: tuple[str, ...]):
    """The keys a release must be signed with: the settings', and any given on the command."""
    from kiosk.formats.manifest import trusted_keys

    return trusted_keys(settings, pubkeys)
