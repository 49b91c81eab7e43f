"""The command line documents itself, and README documents the command line."""

from pathlib import Path

import click
from click.testing import CliRunner

from kiosk.cli import main

README = (Path(__file__).parent.parent / "README.md").read_text()


def all_commands(group: click.Group, prefix: str = ""):
    for name, command in group.commands.items():
        yield f"{prefix}{name}", command
        if isinstance(command, click.Group):
            yield from all_commands(command, f"{prefix}{name} ")


def test_every_command_has_help_and_is_in_the_readme():
    runner = CliRunner()
    for path, command in all_commands(main):
        assert command.help, f"kiosk {path} has no help"
        result = runner.invoke(main, [*path.split(), "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output
        assert f"kiosk {path}" in README, f"kiosk {path} is not described in README.md"


def test_readme_opens_with_the_two_commands():
    first_block = README.split("```")[1].strip().splitlines()
    assert [line.split("#")[0].strip() for line in first_block[1:]] == ["./dev demo", "./dev test"]


def test_ci_runs_the_readme_test_command():
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    assert "./dev test" in ci


def test_bad_settings_file_is_a_clear_error_not_a_traceback(tmp_path):
    bad = tmp_path / "kiosk.toml"
    bad.write_text("port = 'x'\n")
    result = CliRunner().invoke(main, ["--config", str(bad), "settings"])
    assert result.exit_code == 4
    assert "port must be int" in result.output
    assert "Traceback" not in result.output


def test_keygen_refuses_to_overwrite_a_signing_key(tmp_path):
    from tests.conftest import run_kiosk

    key = tmp_path / "signing-key"
    assert run_kiosk("release", "keygen", str(key)).returncode == 0
    before = key.read_bytes(), (tmp_path / "signing-key.pub").read_bytes()
    again = run_kiosk("release", "keygen", str(key))
    assert again.returncode == 1 and "refusing to overwrite a signing key" in again.stderr
    assert (key.read_bytes(), (tmp_path / "signing-key.pub").read_bytes()) == before
    assert key.stat().st_mode & 0o777 == 0o600
