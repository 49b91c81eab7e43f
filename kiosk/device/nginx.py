"""The front server's configuration: the device's own nginx on port 80 (kiosk-proxy.service).

    nginx_conf(settings) -> text

nginx sends the live release's files and the phone pages drawn once by itself, holds slow
phones, and hands every other request to kiosk-web; it tells kiosk-web of each page it sent
in a datagram on a Unix socket (COUNTS_SOCKET), so that the page is counted.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from kiosk.device.hotspot import hotspot_network
from kiosk.device.web.http import CSP

NGINX_CONFIG = "/etc/first-mile-kiosk/nginx.conf"
COUNTS_SOCKET = "/run/kiosk-web/counts.sock"
# How many of nginx's page reports the socket holds while kiosk-web is busy (Linux's default is
# 10). In practice nginx's send buffer caps it lower, at about 270: 2 s of a busy hotspot.
DGRAM_QUEUE = 512
# A language's home or a guide, as the app's routes and kiosk.device.web.front.Pages name them.
DRAWN_PAGE = r"^/[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}/(guide/[a-z0-9][a-z0-9-]{0,63})?$"


def nginx_conf(
    settings,
    *,
    listen: str = "80",
    runtime: str = "/run/kiosk-proxy",
    user: str = "",
    counts: str = COUNTS_SOCKET,
) -> str:
    """The front server's whole configuration (its own nginx, not Debian's nginx.service).

    ``listen`` and ``runtime`` are the device's; the tests run the same text on a free port
    (and, when they run as root, with ``user`` root: a root nginx's workers would otherwise
    be "nobody", where on the device nginx is started as the kiosk's user and stays it).
    """
    www = f"{settings.data_dir}/www"
    net = hotspot_network(settings)
    own = sorted({"localhost", "127.0.0.1", str(net.ip), settings.host,
                  urlsplit(settings.portal_url).hostname or "localhost"})  # fmt: skip
    own_hosts = "".join(f'        "{host}" 0;\n' for host in own)
    return f"""\
# The kiosk's front server on the hotspot (kiosk-proxy.service; rendered by
# `kiosk services render`, checked with `nginx -t`). It sends the live release's files itself
# (sendfile, byte ranges) from {www}, which kiosk-web keeps equal to the files the signed
# manifest lists; it holds slow and idle phones in its event loop; every page, search, form
# and probe goes to kiosk-web, Host and all, so the captive-portal rules are the app's alone.
daemon off;
{f"user {user};" if user else "# No user line: started by systemd as the kiosk's user."}
worker_processes 1;
pid {runtime}/nginx.pid;
# nginx names the phone's address in any message about a request, and nothing may write one
# down: only emergencies (nginx itself cannot run) are logged. No access log, ever.
error_log stderr emerg;

events {{
    worker_connections 4096;
}}

http {{
    access_log off;
    log_not_found off;
    server_tokens off;
    types {{
        text/html html;
        text/css css;
        text/javascript js;
        image/svg+xml svg;
        image/png png;
        image/jpeg jpg jpeg;
        image/webp webp;
        audio/mpeg mp3;
        audio/ogg ogg opus;
        text/plain txt;
        application/pdf pdf;
    }}
    default_type application/octet-stream;
    sendfile on;
    # No tcp_nopush: with it, each 64 KB audio range waited some 40 ms for its last packet on
    # a kept-alive connection (p50 42.7 ms against 1.1 ms without, benchmarks/load_bench.py).
    disable_symlinks on;
    # Slow or silent phones are dropped, never waited on for long (a cheap phone on a weak
    # signal still sends its few hundred header bytes within seconds).
    client_header_timeout 10s;
    client_body_timeout 10s;
    send_timeout 30s;
    keepalive_timeout 20s;
    reset_timedout_connection on;
    client_max_body_size 64k;
    client_header_buffer_size 1k;
    large_client_header_buffers 4 16k;
    client_body_temp_path {runtime}/body;
    proxy_temp_path {runtime}/proxy;
    fastcgi_temp_path {runtime}/fastcgi;
    uwsgi_temp_path {runtime}/uwsgi;
    scgi_temp_path {runtime}/scgi;

    # A phone's visit: a random cookie for the session (no expiry), given out here and handed
    # to the app in X-Kiosk-Visit; held in the app's memory only, never written anywhere.
    userid on;
    userid_name visit;
    userid_path /;
    userid_flags httponly samesite=lax;

    # The phone pages drawn once (www/pages) are sent by nginx only for a GET or HEAD with no
    # query to the kiosk's own name: any other name is the app's captive-portal business.
    map $host $foreign_host {{
        default 1;
{own_hosts}    }}
    map "$foreign_host$is_args$request_method" $drawn_page {{
        default 0;
        0GET 1;
        0HEAD 1;
    }}
    # What the app is told of each drawn page sent, so that it is counted as if the app had
    # sent it: the page and the visit cookie, never an address.
    # (nginx writes "-" for whichever of the two cookie variables is empty.)
    log_format kiosk_pages '$request_method $drawn_uri $status $uid_got$uid_set';

    upstream kiosk_web {{
        server 127.0.0.1:{settings.port};
        keepalive 8;
    }}

    server {{
        listen {listen} default_server;
        server_name _;

        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        # Set, never appended to: what a phone sends in this header is thrown away.
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header Forwarded "";
        proxy_set_header X-Forwarded-Host "";
        proxy_set_header X-Forwarded-Proto "";
        proxy_set_header X-Forwarded-Port "";
        proxy_set_header X-Real-IP "";
        proxy_set_header X-Kiosk-Visit $uid_got$uid_set;
        proxy_read_timeout 60s;
        proxy_buffers 16 16k;

        location / {{
            proxy_pass http://kiosk_web;
        }}

        # The release's files and the app's CSS and JS carry their version in the URL, so
        # they never change: cached for a year. What is not in www goes to the app, which
        # answers 404 unless the live release's manifest lists it.
        location /media/ {{
            root {www};
            try_files $uri @kiosk_web;
            add_header Cache-Control "public, max-age=31536000, immutable";
            add_header X-Content-Type-Options nosniff;
        }}

        location /static/ {{
            root {www};
            gzip_static on;
            try_files $uri @kiosk_web;
            add_header Cache-Control "public, max-age=31536000, immutable";
            add_header X-Content-Type-Options nosniff;
            add_header Vary Accept-Encoding;
        }}

        location ~ "{DRAWN_PAGE}" {{
            error_page 418 = @kiosk_web;
            if ($drawn_page = 0) {{
                return 418;
            }}
            # The page asked for, kept before try_files turns it into a file name.
            set $drawn_uri $uri;
            root {www}/pages;
            charset utf-8;
            gzip_static on;
            try_files $uri.html ${{uri}}index.html @kiosk_web;
            access_log syslog:server=unix:{counts},nohostname,tag=kiosk kiosk_pages;
            add_header Content-Security-Policy "{CSP}";
            add_header X-Content-Type-Options nosniff;
            add_header Referrer-Policy no-referrer;
            add_header X-Frame-Options DENY;
            add_header Cache-Control no-cache;
            add_header Vary Accept-Encoding;
        }}

        location @kiosk_web {{
            proxy_pass http://kiosk_web;
        }}
    }}
}}
"""
