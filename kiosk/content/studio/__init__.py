"""The recording studio: a translator reads the guides aloud, one sentence at a time.

``kiosk studio CONTENT`` serves this on 127.0.0.1 only (a browser lets a page use the
microphone there without HTTPS). It shows one sentence large, in its script and direction,
with the sentences before and after it; records with the browser's microphone (or takes a
file, without JavaScript); trims, levels and keeps each take beside the text
(kiosk.content.recordings), and shows how far each guide and language has come.
"""

from __future__ import annotations

from kiosk.content.studio.app import create_studio

__all__ = ["create_studio"]
