"""Headquarters' report: reach summed from the cells kiosks sent, and each kiosk's last word."""

from __future__ import annotations

import json
from pathlib import Path

from kiosk.hq.database import open_hq
from kiosk.vocabulary import HQ_K


def guide_tags(root: Path) -> dict[str, dict[str, list[str]]]:
    """Each guide's journey steps, resilience dimensions and support types, from the newest
    published release."""
    tags: dict[str, dict[str, list[str]]] = {}
    for latest in sorted((root / "releases").glob("*/LATEST")):
        try:
            folder = latest.parent / latest.read_text().strip()
            catalog = json.loads((folder / "catalog.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for guide in catalog.get("guides", []):
            tags[guide["id"]] = {"steps": guide["steps"], "dimensions": guide["dimensions"],
                                 "support": guide.get("support", [])}  # fmt: skip
    return tags


def catalog_words(root: Path) -> dict[str, dict[str, str]]:
    """Guides' titles and countries' names (in the reference language), and languages' own
    names, for labels in words."""
    words: dict[str, dict[str, str]] = {"guides": {}, "languages": {}, "countries": {}}
    for latest in sorted((root / "releases").glob("*/LATEST")):
        try:
            folder = latest.parent / latest.read_text().strip()
            catalog = json.loads((folder / "catalog.json").read_text(encoding="utf-8"))
            reference = catalog.get("reference", "en")
            for guide in catalog.get("guides", []):
                text = guide["text"].get(reference) or next(iter(guide["text"].values()))
                words["guides"][guide["id"]] = text["title"]
            for lang in catalog.get("languages", []):
                words["languages"][lang["tag"]] = lang["name"]
            for key, name in catalog.get("ui", {}).get(reference, {}).items():
                if key.startswith("country."):
                    words["countries"][key.removeprefix("country.")] = name
        except (OSError, ValueError, KeyError, TypeError, StopIteration, AttributeError):
            continue
    return words


def reach(root: Path) -> dict:
    """Headquarters' totals, summed from the cells kiosks sent of at least headquarters' k
    (kiosk.vocabulary.HQ_K), as every page of headquarters' app counts them.

    Views are also added up along the journey steps and resilience dimensions each guide is
    tagged with, the words headquarters reports to donors in; a guide tagged with two steps
    counts toward both.
    """
    db = open_hq(root)
    try:

        def rows(sql: str, *args) -> list:
            return db.execute(sql, args).fetchall()

        views = rows(
            "SELECT guide, lang, sum(views) FROM guide_day WHERE views >= ? "
            "GROUP BY guide, lang ORDER BY 3 DESC",
            HQ_K,
        )
        tags = guide_tags(root)
        by_step: dict[str, int] = {}
        by_dimension: dict[str, int] = {}
        for guide, _lang, n in views:
            for step in tags.get(guide, {}).get("steps", []):
                by_step[step] = by_step.get(step, 0) + n
            for dimension in tags.get(guide, {}).get("dimensions", []):
                by_dimension[dimension] = by_dimension.get(dimension, 0) + n
        return {
            "visits": rows(
                "SELECT device, sum(visits) FROM channel_day WHERE visits >= ? GROUP BY device",
                HQ_K,
            ),
            "views": views,
            "steps": by_step,
            "dimensions": by_dimension,
            "devices": rows("SELECT device, heartbeat, received FROM devices ORDER BY device"),
            "rejected": rows("SELECT device, name, message FROM files WHERE status = 'rejected'"),
        }
    finally:
        db.close()
