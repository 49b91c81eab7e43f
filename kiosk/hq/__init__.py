"""Headquarters: register kiosks, publish signed releases, take in what kiosks send, report.

Layout of headquarters' sync root (docs/headquarters.md)::

    releases/<channel>/LATEST, releases/<channel>/<version>/   published releases
    inbox/<device>/        written only by that device's write key (rrsync -wo -munge)
    devices/<device>/      that device's SSH keys (give them to the kiosk, keep them safe)
    rejected/<device>/     uploads ingest could not take in, moved here, with hq.db saying why
    hq.db                  everything ingested (SQLite)

A USB stick carries only releases/ and an empty inbox/ (``make_stick``), never this whole
folder. The release signing key lives outside it (``publish`` refuses one inside).
"""

from kiosk.hq.database import open_hq
from kiosk.hq.ingest import ingest
from kiosk.hq.report import guide_tags, reach
from kiosk.hq.root import DEVICE_NAME, Refused, add_device, publish
from kiosk.hq.stick import make_stick

__all__ = [
    "DEVICE_NAME",
    "Refused",
    "add_device",
    "guide_tags",
    "ingest",
    "make_stick",
    "open_hq",
    "publish",
    "reach",
]
