"""What a phone on the kiosk's Wi-Fi does, run inside its network namespace by the test.

dns NAME            -> the A record the kiosk's DNS gives (raw UDP query, no resolver)
http METHOD URL     -> status and Location of one plain HTTP request
media URL           -> status, sender and size of the first 100 bytes of a page's first MP3
page URL            -> status and sender (front or app) of a page
pages N URL         -> how many of N asks for a page on one connection the front server sent
tcp HOST PORT       -> "open" or "closed" (2 s)
"""

from __future__ import annotations

import http.client
import random
import re
import socket
import struct
import sys
from urllib.parse import urlsplit


def dns(name: str, server: str = "10.42.0.1") -> str:
    query_id = random.randint(0, 65535)
    header = struct.pack(">HHHHHH", query_id, 0x0100, 1, 0, 0, 0)
    question = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    packet = header + question + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        s.sendto(packet, (server, 53))
        reply = s.recv(512)
    answers = struct.unpack(">H", reply[6:8])[0]
    if not answers:
        return "none"
    return socket.inet_ntoa(reply[-4:])  # the last answer's address (one A record here)


def http_request(method: str, url: str) -> str:
    parts = urlsplit(url)
    ip = dns(parts.hostname) if not parts.hostname[0].isdigit() else parts.hostname
    conn = http.client.HTTPConnection(ip, parts.port or 80, timeout=5)
    conn.request(method, parts.path or "/", headers={"Host": parts.netloc})
    response = conn.getresponse()
    body = response.read()
    return f"{response.status} {response.getheader('Location', '-')} {body[:60]!r}"


def media(url: str) -> str:
    """Open a guide page, then ask for the first 100 bytes of its first MP3, as a phone's
    player does: "<status> <who sent it: app or front> <bytes>"."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=5)
    conn.request("GET", parts.path, headers={"Host": parts.netloc})
    page = conn.getresponse().read().decode()
    mp3 = re.search(r'"(/media/[^"]+\.mp3)"', page)
    if not mp3:
        return "no-audio"
    conn.request("GET", mp3.group(1), headers={"Host": parts.netloc, "Range": "bytes=0-99"})
    response = conn.getresponse()
    body = response.read()
    # The app puts its Content-Security-Policy on everything it sends; the front server
    # sends the release's files without one.
    sender = "app" if response.getheader("Content-Security-Policy") else "front"
    return f"{response.status} {sender} {len(body)}"


def page(url: str) -> str:
    """ "<status> <who sent it>": nginx's ETag is "<mtime>-<size>" in hex, the app's a hash."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=5)
    conn.request("GET", parts.path, headers={"Host": parts.netloc})
    response = conn.getresponse()
    response.read()
    drawn = re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+"', response.getheader("ETag") or "")
    return f"{response.status} {'front' if drawn else 'app'}"


def pages(count: str, url: str) -> str:
    """ "<pages sent by the front server> front": a phone reading fast, one connection."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=5)
    sent = 0
    for _ in range(int(count)):
        conn.request("GET", parts.path, headers={"Host": parts.netloc})
        response = conn.getresponse()
        response.read()
        drawn = re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+"', response.getheader("ETag") or "")
        sent += response.status == 200 and drawn is not None
    return f"{sent} front"


def tcp(host: str, port: str) -> str:
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
        return "open"
    except OSError:
        return "closed"


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    commands = {
        "dns": dns,
        "http": http_request,
        "media": media,
        "page": page,
        "pages": pages,
        "tcp": tcp,
    }
    print(commands[command](*args))
