"""The hotspot's system files: the open Wi-Fi, its captive DNS and DHCP, and the firewall.

    hotspot_files(settings) -> {relative path: text}

The hotspot is NetworkManager's (a shared-IPv4 access point), and captive DNS and DHCP come
from NetworkManager's own dnsmasq through dnsmasq-shared.d: one dnsmasq, never two. The
firewall lets phones reach the kiosk's DHCP, DNS and web pages, and nothing else.
"""

from __future__ import annotations

import ipaddress

from kiosk.errors import SettingsError


def hotspot_network(settings):
    """The kiosk's address on the hotspot, with the hotspot's network (``hotspot_address``)."""
    try:
        interface = ipaddress.ip_interface(settings.hotspot_address)
    except ValueError:
        raise SettingsError(
            f"hotspot_address {settings.hotspot_address!r} is not like 10.42.0.1/24."
        ) from None
    if interface.version != 4 or interface.network.prefixlen > 28:
        raise SettingsError("hotspot_address must be an IPv4 network of at least 16 addresses.")
    return interface


def hotspot_files(settings) -> dict[str, str]:
    """The access point, its dnsmasq additions, the firewall and the Wi-Fi country."""
    net = hotspot_network(settings)
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
    return files
