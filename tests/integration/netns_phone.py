"""What a phone on the kiosk's Wi-Fi does, run inside its network namespace by the test.

dns NAME            -> the A record the kiosk's DNS gives (raw UDP query, no resolver)
http METHOD URL     -> status and Location of one plain HTTP request
tcp HOST PORT       -> "open" or "closed" (2 s)
"""

from __future__ import annotations

import http.client
import random
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


def tcp(host: str, port: str) -> str:
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
        return "open"
    except OSError:
        return "closed"


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    print({"dns": dns, "http": http_request, "tcp": tcp}[command](*args))
