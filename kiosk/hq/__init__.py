"""Headquarters: register kiosks, publish signed releases, take in what kiosks send, report.

Layout of headquarters' sync root (also what a USB stick carries)::

    releases/<channel>/LATEST, releases/<channel>/<version>/   published releases
    inbox/<device>/        written only by that device's write key (rrsync -wo)
    devices/<device>/      that device's SSH keys (give them to the kiosk, keep them safe)
    rejected/<device>/     copies of files that could not be read, with hq.db saying why
    hq.db                  everything ingested (SQLite)
"""

from kiosk.hq.ingest import ingest, open_hq
from kiosk.hq.report import guide_tags, reach
from kiosk.hq.root import DEVICE_NAME, add_device, publish

__all__ = ["DEVICE_NAME", "add_device", "guide_tags", "ingest", "open_hq", "publish", "reach"]
