"""systemd's watchdog for `kiosk serve`: ready once the pages answer, then a ping while they do.

Only when systemd asks for it (NOTIFY_SOCKET); a server that stops answering its own health
check stops pinging, and systemd restarts it.
"""

from __future__ import annotations

import os
import socket
import threading
import urllib.request


def notify(message: str) -> bool:
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(message.encode(), address)
    return True


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
            return response.status in (200, 503)  # 503: up, but no release yet
    except urllib.error.HTTPError as exc:
        return exc.code == 503
    except OSError:
        return False


def start_watchdog(url: str) -> threading.Thread | None:
    """Tell systemd when the server is ready, then keep pinging while it answers."""
    if not os.environ.get("NOTIFY_SOCKET"):
        return None
    usec = int(os.environ.get("WATCHDOG_USEC", "0") or 0)
    interval = usec / 2_000_000 if usec else 30

    def run() -> None:
        stop = threading.Event()
        while not healthy(url):
            stop.wait(0.5)
        notify("READY=1")
        while not stop.wait(interval):
            if healthy(url):
                notify("WATCHDOG=1")

    thread = threading.Thread(target=run, name="watchdog", daemon=True)
    thread.start()
    return thread
