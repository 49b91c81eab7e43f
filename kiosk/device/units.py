"""The kiosk's systemd units, each sandboxed as tightly as its work allows.

    unit_files(settings) -> {relative path: text}

kiosk-web (the app, with systemd's watchdog), kiosk-proxy (nginx in front of it),
kiosk-display (the touchscreen's own X server and window), kiosk-sync and its timer, and the
two units that mount a USB stick and sync with it.
"""

from __future__ import annotations

from kiosk.device.nginx import COUNTS_SOCKET, NGINX_CONFIG

CONFIG = "/etc/first-mile-kiosk/kiosk.toml"

UNITS = ("kiosk-web.service", "kiosk-proxy.service", "kiosk-display.service", "kiosk-sync.service",
         "kiosk-sync.timer", "kiosk-usb@.service", "kiosk-usb-sync@.service")  # fmt: skip


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


def unit_files(settings) -> dict[str, str]:
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
