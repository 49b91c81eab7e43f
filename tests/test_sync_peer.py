"""The ``ssh`` that rsync runs for a ``Peer``: the options a fabric Connection used to carry."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.device.sync import Peer, ssh_command


def test_ssh_pins_the_host_key_offers_one_key_and_asks_nothing():
    peer = Peer("hq.example.org", "kiosk", Path("/etc/first-mile-kiosk/read_key"), 2222)
    assert ssh_command(peer, "/etc/first-mile-kiosk/known_hosts", timeout=60) == [
        "ssh", "-p", "2222",
        "-o", "BatchMode=yes",
        "-o", "IdentitiesOnly=yes",
        "-o", "StrictHostKeyChecking=yes",
        "-o", "UserKnownHostsFile=/etc/first-mile-kiosk/known_hosts",
        "-o", "ConnectTimeout=60",
        "-o", "ServerAliveInterval=20",
        "-o", "ServerAliveCountMax=3",
        "-i", "/etc/first-mile-kiosk/read_key",
    ]  # fmt: skip
    assert peer.remote == "kiosk@hq.example.org:"


def test_an_unset_user_or_port_is_left_to_ssh():
    peer = Peer("hq", "", "key", 0)
    assert peer.remote == "hq:"
    assert "-p" not in ssh_command(peer, "known", timeout=1)


def test_a_peer_is_a_value():
    peer = Peer("hq", "kiosk", "key")
    assert peer == Peer("hq", "kiosk", "key", 22)
    with pytest.raises(AttributeError):
        peer.host = "elsewhere"
