"""Settings declared as data: each has a name, a default and help text.

Values come, lowest priority first, from the defaults here, the TOML file named by
``KIOSK_CONFIG`` (or ``/etc/first-mile-kiosk/kiosk.toml`` when it exists), ``KIOSK_<NAME>``
environment variables, and finally command-line options.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.errors import SettingsError

SYSTEM_CONFIG = Path("/etc/first-mile-kiosk/kiosk.toml")


def _default_data_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return os.path.join(base, "first-mile-kiosk")


def _default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "first-mile-kiosk", "speech")


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    kind: type = str

    @property
    def env(self) -> str:
        return "KIOSK_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "data_dir",
        _default_data_dir(),
        "Folder for everything the device writes: releases, usage counts, state.",
    ),
    Setting(
        "trusted_keys",
        [],
        "Public key files (KEY.pub) whose releases this kiosk accepts; several allow rotation. "
        "In the environment, separate paths with ':'.",
        list,
    ),
    Setting(
        "speech_cache_dir",
        _default_cache_dir(),
        "Where release builds keep synthesized audio, so unchanged text is not spoken again.",
    ),
    Setting(
        "speech_rate", 150, "Speaking speed in words per minute (espeak-ng default: 175).", int
    ),
    Setting("speech_pitch", 50, "Voice pitch, 0 to 99.", int),
    Setting("speech_workers", 2, "How many espeak-ng and lame processes run at once.", int),
    Setting(
        "mp3_bitrate",
        20,
        "Average MP3 bitrate in kbit/s for speech: 20 gives about 160 KB a minute, still clear.",
        int,
    ),
    Setting("release_expiry_days", 365, "Days a newly built release stays valid.", int),
    Setting("host", "127.0.0.1", "Address the web server listens on."),
    Setting("port", 8080, "Port the web server listens on.", int),
    Setting("threads", 4, "Worker threads of the web server (waitress).", int),
    Setting(
        "wifi_ssid", "Safe Migration Info", "Name of the kiosk's open Wi-Fi, shown as a QR code."
    ),
    Setting(
        "portal_url",
        "http://10.42.0.1/",
        "Address phones on the hotspot use to reach the kiosk (QR codes, captive portal).",
    ),
    Setting(
        "idle_seconds",
        90,
        "Touchscreen: seconds without a touch before audio stops and the next visitor starts "
        "fresh at the language choice.",
        int,
    ),
    Setting(
        "device_name",
        "kiosk",
        "This kiosk's name, as headquarters knows it (written into usage snapshots).",
    ),
    Setting(
        "k_anonymity",
        5,
        "Smallest count that leaves the device or is shown as an unmet need; smaller counts "
        "are suppressed so that no single visitor can be picked out.",
        int,
    ),
    Setting("usage_flush_seconds", 2, "Seconds between writes of the usage counters.", int),
    Setting(
        "snapshot_minutes",
        60,
        "Minutes between usage snapshots for headquarters (today's and yesterday's).",
        int,
    ),
    Setting(
        "visit_minutes",
        30,
        "Minutes of quiet after which a phone's next page counts as a new visit.",
        int,
    ),
    Setting(
        "language_order",
        [],
        "Touchscreen: language tags in the order the language choice shows them (the rest "
        "follow in the release's order).",
        list,
    ),
    Setting(
        "admin_over_hotspot",
        False,
        "Allow the librarian's page from phones on the hotspot. Off: open Wi-Fi carries the "
        "password in clear, so only the kiosk's own screen may sign in.",
        bool,
    ),
    Setting(
        "admin_idle_minutes",
        15,
        "Minutes after which a quiet librarian is signed out (on the kiosk's own screen: "
        "when the screen starts over for the next visitor, idle_seconds).",
        int,
    ),
    Setting(
        "admin_session_hours",
        8,
        "Hours after signing in when the librarian is signed out, however busy: a session "
        "left open never lasts longer than a working day.",
        int,
    ),
    Setting(
        "usb_root",
        "/media/kiosk-usb",
        "Folder under which the device mounts each USB stick (as <root>/sdb1); the librarian's "
        "page offers the sticks mounted there, and nothing else.",
    ),
    Setting("release_channel", "stable", "Which of headquarters' release channels to follow."),
    Setting("hq_host", "", "Headquarters' sync server (empty: sync by USB stick only)."),
    Setting("hq_port", 22, "SSH port of headquarters' sync server.", int),
    Setting("hq_user", "kiosk", "SSH user at headquarters."),
    Setting(
        "hq_read_key", "", "This kiosk's SSH key for fetching releases (from kiosk hq add-device)."
    ),
    Setting(
        "hq_write_key", "", "This kiosk's SSH key for sending figures (from kiosk hq add-device)."
    ),
    Setting(
        "sync_bwlimit",
        0,
        "Most KB per second sync may use (0: no limit), to leave a metered line usable.",
        int,
    ),
    Setting(
        "sync_timeout",
        60,
        "Seconds sync waits while headquarters or a USB stick sends or accepts nothing (and "
        "for the SSH connection to open) before it gives up, so a stalled link never holds "
        "sync for ever; the next sync carries on where it stopped.",
        int,
    ),
    Setting(
        "hq_known_hosts",
        "",
        "known_hosts file holding headquarters' pinned host key; no other key is trusted.",
    ),
    Setting(
        "invite_minutes",
        10,
        "Attract screen: minutes between spoken invitations to come and listen (0: never).",
        int,
    ),
    Setting(
        "quiet_hours",
        "21-7",
        "Hours (from-to, 24-hour clock) when the attract screen stays silent.",
    ),
    Setting("pin_listen", 17, "GPIO (BCM) of the Listen/Stop button.", int),
    Setting("pin_next", 27, "GPIO of the Next button.", int),
    Setting("pin_previous", 22, "GPIO of the Previous button.", int),
    Setting("pin_language", 23, "GPIO of the Language button.", int),
    Setting("pin_home", 24, "GPIO of the Home button.", int),
    Setting(
        "pin_shutdown",
        3,
        "GPIO of the shutdown button (GPIO3 also wakes a halted Pi). Hold it to shut down.",
        int,
    ),
    Setting("pin_listen_light", 12, "GPIO of the light in the Listen button.", int),
    Setting("pin_status_light", 16, "GPIO of the status light.", int),
    Setting("pin_motion", 4, "GPIO of the motion sensor (0: none fitted).", int),
    Setting(
        "shutdown_command",
        "systemctl poweroff",
        "What a long press of the shutdown button runs (a clean shutdown spares the SD card).",
    ),
    Setting(
        "hotspot_address",
        "10.42.0.1/24",
        "The kiosk's address and network on its own Wi-Fi (phones get addresses from it).",
    ),
    Setting("hotspot_interface", "wlan0", "The Wi-Fi interface that carries the hotspot."),
    Setting(
        "wifi_country",
        "00",
        "Two-letter country code for Wi-Fi rules (channels, power); 00 is the cautious "
        "worldwide default. Set it to the country the kiosk stands in.",
    ),
    Setting(
        "install_prefix",
        "/opt/first-mile-kiosk",
        "Where the kiosk's code and virtual environment live on the device.",
    ),
    Setting("service_user", "kiosk", "The Unix user the kiosk's services run as."),
    Setting(
        "online_minutes",
        30,
        "Captive portal: minutes a phone that pressed Continue is told it is online, so it "
        "keeps the Wi-Fi (kept in memory only).",
        int,
    ),
)

BY_NAME = {s.name: s for s in SETTINGS}


def _coerce(setting: Setting, value: Any, source: str) -> Any:
    try:
        if setting.kind is int:
            if isinstance(value, bool):
                raise ValueError
            return int(value)
        if setting.kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off"}:
                return False
            raise ValueError
        if setting.kind is list:
            if isinstance(value, str):
                return [p for p in value.split(os.pathsep) if p]
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return list(value)
            raise ValueError
        if not isinstance(value, str | int | float):
            raise ValueError
        return str(value)
    except ValueError:
        raise SettingsError(
            f"{source}: {setting.name} must be {setting.kind.__name__}, not {value!r}."
        ) from None


class Settings(Mapping[str, Any]):
    """Resolved settings; read them as ``settings["data_dir"]`` or ``settings.data_dir``."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(key) from None

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with some settings changed (command-line options use this)."""
        values = dict(self._values)
        for name, value in changes.items():
            if value is None:
                continue
            if name not in BY_NAME:
                raise SettingsError(f"Unknown setting {name!r}.")
            values[name] = _coerce(BY_NAME[name], value, "option")
        return Settings(values)


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Resolve every setting from defaults, the config file, the environment and overrides."""
    env = os.environ if environ is None else environ
    values = {s.name: s.default for s in SETTINGS}

    path = config_file or env.get("KIOSK_CONFIG")
    if path is None and SYSTEM_CONFIG.exists():
        path = SYSTEM_CONFIG
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"The settings file {path} does not exist.") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"The settings file {path} cannot be read: {exc}.") from None
        for name, value in data.items():
            if name not in BY_NAME:
                raise SettingsError(f"{path}: unknown setting {name!r}.")
            values[name] = _coerce(BY_NAME[name], value, str(path))

    for setting in SETTINGS:
        if setting.env in env:
            values[setting.name] = _coerce(setting, env[setting.env], setting.env)

    data_dir = overrides.get("data_dir") or values["data_dir"]
    for name, value in read_device_settings(data_dir).items():
        values[name] = _coerce(BY_NAME[name], value, DEVICE_SETTINGS_FILE)

    return Settings(values).replace(**overrides)


# What the librarian may change on the admin page; saved in the data folder, applied last.
LIBRARIAN_SETTINGS = ("wifi_ssid", "idle_seconds", "language_order", "k_anonymity",
                      "admin_over_hotspot")  # fmt: skip
DEVICE_SETTINGS_FILE = "device-settings.json"


def read_device_settings(data_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The librarian's choices (unknown or broken entries are ignored, never fatal)."""
    import json

    try:
        data = json.loads((Path(data_dir) / DEVICE_SETTINGS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    out = {}
    for name in LIBRARIAN_SETTINGS:
        if name in data:
            try:
                out[name] = _coerce(BY_NAME[name], data[name], DEVICE_SETTINGS_FILE)
            except SettingsError:
                continue
    return out


def write_device_settings(data_dir: str | os.PathLike[str], changes: dict[str, Any]) -> None:
    """Save the librarian's choices atomically (temporary file, fsync, rename)."""
    import json

    from kiosk.files import write_atomic

    folder = Path(data_dir)
    current = read_device_settings(folder)
    current.update({k: v for k, v in changes.items() if k in LIBRARIAN_SETTINGS})
    text = json.dumps(current, ensure_ascii=False, indent=1, sort_keys=True)
    write_atomic(folder / DEVICE_SETTINGS_FILE, text)
