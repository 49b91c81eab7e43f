"""The device's system files, rendered from settings by one function (code is never templated).

    render(settings) -> {relative path: text}

Every file says why it is the way it is. The hotspot is NetworkManager's (a shared-IPv4 access
point), and captive DNS and DHCP come from NetworkManager's own dnsmasq through
dnsmasq-shared.d: one dnsmasq, never two.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from kiosk.errors import SettingsError
from kiosk.web.http import CSP

CONFIG = "/etc/first-mile-kiosk/kiosk.toml"
NGINX_CONFIG = "/etc/first-mile-kiosk/nginx.conf"

UNITS = ("kiosk-web.service", "kiosk-proxy.service", "kiosk-display.service", "kiosk-sync.service",
         "kiosk-sync.timer", "kiosk-usb@.service", "kiosk-usb-sync@.service")  # fmt: skip


def _network(settings):
    try:
        interface = ipaddress.ip_interface(settings.hotspot_address)
    except ValueError:
        raise SettingsError(
            f"hotspot_address {settings.hotspot_address!r} is not like 10.42.0.1/24."
        ) from None
    if interface.version != 4 or interface.network.prefixlen > 28:
        raise SettingsError("hotspot_address must be an IPv4 network of at least 16 addresses.")
    return interface


def _check(settings) -> None:
    if not re.fullmatch(r"[A-Z]{2}|00", settings.wifi_country):
        raise SettingsError("wifi_country must be two capital letters (or 00).")
    if not re.fullmatch(r"[a-z0-9]{1,15}", settings.hotspot_interface):
        raise SettingsError("hotspot_interface must be an interface name like wlan0.")
    ssid = settings.wifi_ssid
    if not 1 <= len(ssid.encode()) <= 32 or any(ord(c) < 32 for c in ssid):
        raise SettingsError("wifi_ssid must be 1 to 32 bytes with no control characters.")
    if not re.fullmatch(r"/[A-Za-z0-9._/-]+", settings.install_prefix):
        raise SettingsError("install_prefix must be an absolute path of plain characters.")
    if not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", settings.service_user):
        raise SettingsError("service_user must be a plain Unix user name.")


def mode(path: str) -> int:
    """The file mode a rendered file must have: NetworkManager ignores a profile others can
    read (nm-settings-keyfile(5)), so the hotspot's is 0600; everything else is 0644."""
    return 0o600 if path.startswith("etc/NetworkManager/system-connections/") else 0o644


def render(settings) -> dict[str, str]:
    """Every system file the kiosk needs, as text, keyed by its path under / ."""
    _check(settings)
    net = _network(settings)
    ip = str(net.ip)
    hosts = list(net.network.hosts())
    first, last = hosts[min(9, len(hosts) - 1)], hosts[-1]
    files: dict[str, str] = {}

    files["etc/NetworkManager/system-connections/kiosk-hotspot.nmconnection"] = f"""\
# The kiosk's open Wi-Fi. Open on purpose: villagers join without a password; the pages carry
# nothing secret and the librarian's page is closed to the hotspot (admin_over_hotspot).
[connection]
id=kiosk-hotspot
type=wifi
interface-name={settings.hotspot_interface}
autoconnect=true
autoconnect-priority=100

[wifi]
mode=ap
ssid={settings.wifi_ssid}
band=bg
# Phones cannot see each other: a trafficker on the same Wi-Fi cannot reach a visitor's phone.
ap-isolation=1

[ipv4]
# "shared": NetworkManager gives out addresses with its own dnsmasq (see dnsmasq-shared.d).
method=shared
address1={net.with_prefixlen}

[ipv6]
method=disabled
"""

    files["etc/NetworkManager/dnsmasq-shared.d/kiosk.conf"] = f"""\
# Added to NetworkManager's own dnsmasq for the hotspot (the only dnsmasq on the kiosk).
# Every name answers with the kiosk's address, so a phone's connectivity check lands on the
# kiosk's captive-portal answers and any typed address shows the guides.
address=/#/{ip}
# No upstream resolver: no question ever leaves the device.
no-resolv
# RFC 8910 captive-portal address (phones may ignore a plain-HTTP one; the probes still work).
dhcp-option=114,"http://{ip}/portal"
dhcp-range={first},{last},2h
# Leases live in memory only: no list of phones is ever written down.
leasefile-ro
# No query or DHCP logging: nothing about who asked for what.
quiet-dhcp
quiet-dhcp6
quiet-ra
"""

    files["etc/nftables.d/kiosk.nft"] = f"""\
# Phones on the hotspot reach the kiosk's DHCP, DNS and web pages, and nothing else:
# no internet through the kiosk, no other phone, no SSH.
table inet kiosk {{
    chain input {{
        type filter hook input priority filter; policy accept;
        iifname "{settings.hotspot_interface}" jump from_hotspot
    }}

    chain from_hotspot {{
        ct state established,related accept
        udp dport {{ 53, 67 }} accept
        tcp dport 53 accept
        tcp dport 80 accept
        # HTTPS cannot be answered without a certificate: refuse at once, so phones give up
        # quickly and fall back to their plain-HTTP connectivity checks.
        tcp dport 443 reject with tcp reset
        drop
    }}

    chain forward {{
        type filter hook forward priority filter; policy accept;
        # NetworkManager's shared mode would masquerade to an uplink; the kiosk forwards nothing.
        iifname "{settings.hotspot_interface}" drop
        oifname "{settings.hotspot_interface}" drop
    }}

    chain prerouting {{
        type nat hook prerouting priority dstnat; policy accept;
        # Plain HTTP to any address lands on the kiosk's front server (kiosk-proxy).
        iifname "{settings.hotspot_interface}" tcp dport 80 redirect to :80
    }}
}}
"""

    files["etc/modprobe.d/kiosk-wifi-country.conf"] = f"""\
# Wi-Fi rules of the country the kiosk stands in (channels and power), or 00: worldwide.
options cfg80211 ieee80211_regdom={settings.wifi_country}
"""

    files["etc/nftables.conf"] = """\
#!/usr/sbin/nft -f
# Loaded at boot by Debian's nftables.service. The kiosk owns this device's firewall: start
# clean, then take every rule file in /etc/nftables.d (the kiosk's is kiosk.nft).
flush ruleset
include "/etc/nftables.d/*.nft"
"""

    files["etc/sysctl.d/60-first-mile-kiosk.conf"] = f"""\
# nginx tells kiosk-web of each page it sends by itself in a datagram on a Unix socket
# ({COUNTS_SOCKET}). Linux queues only 10 of them by default: when the CPU is busy, the
# pages after those would go uncounted. Read when kiosk-web makes its socket.
net.unix.max_dgram_qlen = {DGRAM_QUEUE}
"""

    files["etc/systemd/journald.conf.d/kiosk.conf"] = """\
# Logs in RAM only: spares the SD card, and nothing survives a seizure of the device.
[Journal]
Storage=volatile
RuntimeMaxUse=32M
"""
    files[NGINX_CONFIG.lstrip("/")] = nginx_conf(settings)
    files.update(_units(settings))
    files["etc/udev/rules.d/90-kiosk-usb.rules"] = (
        "# A FAT or exFAT stick labelled KIOSK brings releases and takes figures home: sync\n"
        "# with it (kiosk-usb@.service mounts it for the kiosk's user, unmounts it on removal).\n"
        'ACTION=="add", SUBSYSTEM=="block", ENV{ID_FS_LABEL}=="KIOSK", '
        'ENV{ID_FS_TYPE}=="vfat|exfat", TAG+="systemd", '
        'ENV{SYSTEMD_WANTS}+="kiosk-usb@%k.service"\n'
    )
    return files


COUNTS_SOCKET = "/run/kiosk-web/counts.sock"
# How many of nginx's page reports the socket holds while kiosk-web is busy (Linux's default is
# 10). In practice nginx's send buffer caps it lower, at about 270: 2 s of a busy hotspot.
DGRAM_QUEUE = 512
# A language's home or a guide, as the app's routes and kiosk.web.front.Pages name them.
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
    net = _network(settings)
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


# What every kiosk service gets: no new privileges, a read-only system, no home folders, its
# own /tmp, and kernel tunables, modules, logs, control groups, clock and host name out of reach.
_PROTECTED = """\
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
LockPersonality=yes
SystemCallArchitectures=native
"""


# What every kiosk service gets: the settings file, the unprivileged user, and no way to gain
# privileges, see other users' files or change the system. ReadWritePaths opens only the data
# folder (releases, counts, outbox) and the USB sticks' folder ("-": it may not exist yet).
def _sandbox(settings) -> str:
    return f"""User={settings.service_user}
Group={settings.service_user}
Environment=KIOSK_CONFIG={CONFIG}
UMask=0027
ReadWritePaths={settings.data_dir} -{settings.usb_root}
{_PROTECTED}CapabilityBoundingSet=
AmbientCapabilities=
"""


# For the services that run no graphics: no devices, no new namespaces, a narrow system call
# set, only the address families they use.
def _headless(families: str) -> str:
    return f"""PrivateDevices=yes
DevicePolicy=closed
RestrictNamespaces=yes
RemoveIPC=yes
ProtectProc=invisible
RestrictAddressFamilies={families}
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
SystemCallErrorNumber=EPERM
MemoryDenyWriteExecute=yes
"""


def _units(settings) -> dict[str, str]:
    kiosk = f"{settings.install_prefix}/venv/bin/kiosk"
    sandbox = _sandbox(settings)
    files: dict[str, str] = {}
    files["etc/systemd/system/kiosk-web.service"] = f"""\
[Unit]
Description=First Mile kiosk: the guide site for phones and the touchscreen
After=network.target
# Keep restarting for as long as it takes: nobody is there to start it by hand.
StartLimitIntervalSec=0

[Service]
Type=notify
# Only on the loopback: the touchscreen and the librarian's page come here directly, phones
# through kiosk-proxy (nginx on port 80).
ExecStart={kiosk} serve --host 127.0.0.1 --port {settings.port} --proxied \\
    --counts-socket {COUNTS_SOCKET}
# Where nginx tells it of the pages it sent by itself (counted in memory, like the rest).
RuntimeDirectory=kiosk-web
RuntimeDirectoryMode=0700
# systemd restarts the server when it stops answering its own health check (watchdog).
WatchdogSec=30
Restart=always
RestartSec=2
{sandbox}{_headless("AF_INET AF_INET6 AF_UNIX")}PrivateUsers=yes

[Install]
WantedBy=multi-user.target
"""
    files["etc/systemd/system/kiosk-proxy.service"] = f"""\
[Unit]
Description=First Mile kiosk: the hotspot's front server (nginx in front of kiosk-web)
After=network.target kiosk-web.service
Wants=kiosk-web.service
StartLimitIntervalSec=0

[Service]
Type=exec
ExecStartPre=/usr/sbin/nginx -t -q -e stderr -c {NGINX_CONFIG}
ExecStart=/usr/sbin/nginx -e stderr -c {NGINX_CONFIG}
ExecReload=/usr/sbin/nginx -e stderr -c {NGINX_CONFIG} -s reload
Restart=always
RestartSec=2
# nginx runs wholly as the kiosk's user, allowed only to open port 80. It sees nothing of the
# data folder but www, read-only (the release's files as kiosk-web published them).
User={settings.service_user}
Group={settings.service_user}
AmbientCapabilities=CAP_NET_BIND_SERVICE
CapabilityBoundingSet=CAP_NET_BIND_SERVICE
RuntimeDirectory=kiosk-proxy
RuntimeDirectoryMode=0700
TemporaryFileSystem={settings.data_dir}:ro
BindReadOnlyPaths=-{settings.data_dir}/www
LimitNOFILE=16384
UMask=0077
{_PROTECTED}{_headless("AF_INET AF_INET6 AF_UNIX")}
[Install]
WantedBy=multi-user.target
"""
    files["etc/systemd/system/kiosk-display.service"] = f"""\
[Unit]
Description=First Mile kiosk: the touchscreen window
After=kiosk-web.service systemd-user-sessions.service
Wants=kiosk-web.service
# The screen's console is the kiosk's, not a login prompt's.
Conflicts=getty@tty7.service
After=getty@tty7.service
StartLimitIntervalSec=0

[Service]
# Its own X server on the seat's console, started by the kiosk's user with a logind session
# (PAMName, TTYPath): logind hands the session the screen and input devices, so X runs
# without root. The X authority cookie is made fresh at each start and readable by the kiosk
# user only: no other program on the device can read the screen or type into it.
RuntimeDirectory=kiosk-display
RuntimeDirectoryMode=0700
Environment=XAUTHORITY=%t/kiosk-display/Xauthority
# WebKit's GL compositing only slows a Pi's X screen (and a VM's) down: pages are drawn whole
# in software instead (a guide page has no 3D, no video).
Environment=WEBKIT_DISABLE_COMPOSITING_MODE=1
PAMName=login
TTYPath=/dev/tty7
TTYReset=yes
TTYVHangup=yes
TTYVTDisallocate=yes
StandardInput=tty-fail
StandardOutput=journal
StandardError=journal
# Its processes move into the screen's logind session, so its log is found by this name:
# journalctl -t kiosk-display
SyslogIdentifier=kiosk-display
UtmpIdentifier=tty7
UtmpMode=user
ExecStartPre=/bin/sh -c 'xauth -q -f "$XAUTHORITY" add :0 . "$(mcookie)"'
# matchbox is the window manager that makes the window fill the screen (and nothing else).
ExecStart=/usr/bin/xinit /bin/sh -c 'matchbox-window-manager -use_titlebar no -use_cursor no \\
    & exec {kiosk} display' -- /usr/lib/xorg/Xorg :0 vt7 -keeptty \\
    -auth ${{XAUTHORITY}} -nolisten tcp -nocursor -s 0 -dpms -novtswitch
Restart=always
RestartSec=3
# The window needs the screen, input and GPIO devices (no PrivateDevices), and WebKit's own
# sandbox makes namespaces for each web process (no RestrictNamespaces).
{sandbox}
[Install]
WantedBy=graphical.target
"""
    files["etc/systemd/system/kiosk-sync.service"] = f"""\
[Unit]
Description=First Mile kiosk: sync with headquarters

[Service]
Type=oneshot
# Only when there is a route out; the kiosk backs off by itself while headquarters is away.
ExecCondition=/bin/sh -c 'ip route show default | grep -q .'
ExecStart={kiosk} sync
# A stuck line must not hold the next sync forever: kiosk sync itself gives up when nothing
# moves for sync_timeout; this caps a slow but moving one (one rsync run is capped at an hour,
# a sync makes up to four).
TimeoutStartSec=5h
# 7: another sync (the stick's, the librarian's button) held the lock; this one did nothing.
SuccessExitStatus=7
# Never slow the web server or the window.
Nice=10
IOSchedulingClass=idle
{sandbox}{_headless("AF_INET AF_INET6 AF_UNIX")}"""
    files["etc/systemd/system/kiosk-sync.timer"] = """\
[Unit]
Description=First Mile kiosk: sync with headquarters now and then

[Timer]
OnBootSec=5min
OnUnitActiveSec=30min
RandomizedDelaySec=5min

[Install]
WantedBy=timers.target
"""
    user = settings.service_user
    stick = f"{settings.usb_root}/%I"
    options = f"uid={user},gid={user},umask=077,nosuid,nodev,noexec,dirsync"
    # Two units per stick: root mounts it in the system's own mount table (a mount made by a
    # sandboxed unit would stay inside that unit's namespace), then the kiosk's user syncs.
    files["etc/systemd/system/kiosk-usb@.service"] = f"""\
[Unit]
Description=First Mile kiosk: mount the USB stick %I
# Stopped (and so unmounted) when the stick is pulled out.
BindsTo=dev-%i.device
After=dev-%i.device
Wants=kiosk-usb-sync@%i.service
Before=kiosk-usb-sync@%i.service

[Service]
Type=oneshot
RemainAfterExit=yes
# The kiosk's user owns the files on the FAT stick (uid=, gid=), so figures can be written to
# it; nothing on it can run (noexec) or be a device (nodev). flush: every write reaches the
# stick at once; dirsync: a rename on FAT writes the file's size and first cluster into its
# new directory entry at once (without it, a stick pulled out right after a sync held
# heartbeat.json with 0 bytes: seen in the system test). Pulled out early, nothing written
# is lost.
ExecStart=/bin/mkdir -p -m 0755 {settings.usb_root}
ExecStart=/bin/mkdir -p -m 0700 {stick}
ExecStart=/bin/sh -c 'mount -t vfat -o {options},flush /dev/%I {stick} \\
    || mount -t exfat -o {options} /dev/%I {stick}'
ExecStop=/bin/umount --lazy {stick}
ExecStopPost=/bin/rmdir --ignore-fail-on-non-empty {stick}
NoNewPrivileges=yes
PrivateNetwork=yes
RestrictAddressFamilies=AF_UNIX AF_NETLINK
DevicePolicy=closed
DeviceAllow=/dev/%I rw
LockPersonality=yes
RestrictRealtime=yes
SystemCallArchitectures=native
"""
    files["etc/systemd/system/kiosk-usb-sync@.service"] = f"""\
[Unit]
Description=First Mile kiosk: sync with the USB stick %I
Requires=kiosk-usb@%i.service
After=kiosk-usb@%i.service
BindsTo=kiosk-usb@%i.service

[Service]
Type=oneshot
ExecStart={kiosk} sync --usb {stick}
TimeoutStartSec=5h
SuccessExitStatus=7
{sandbox}{_headless("AF_UNIX")}"""
    return files
