"""Usage out onto the stick: a CSV a spreadsheet opens, JSON Lines of xAPI statements, and
a per-item summary, in STICK/sanduq/exports/DEVICE_ID/.

Every file holds the box's whole history and is rewritten each time (temporary name, fsync,
rename), so the newest stick always carries everything, a stick that is lost loses nothing,
and an event carried twice is counted once downstream by its id. CSVs are UTF-8 with a BOM
so Excel shows Tajik and Russian correctly. No event holds personal data.
"""

from __future__ import annotations

import csv
import io
import json
import os
import uuid
from collections import Counter
from pathlib import Path

from server.library import Library
from server.usage import read_events

VERBS = {
    "opened": ("http://adlnet.gov/expapi/verbs/launched", "launched"),
    "progress": ("http://adlnet.gov/expapi/verbs/progressed", "progressed"),
    "finished": ("http://adlnet.gov/expapi/verbs/completed", "completed"),
    "search-empty": ("https://w3id.org/xapi/acrossx/verbs/searched", "searched"),
}
ACTIVITY_TYPES = {
    "video": "https://w3id.org/xapi/video/activity-type/video",
    "audio": "http://adlnet.gov/expapi/activities/media",
    "book": "http://id.tincanapi.com/activitytype/book",
    "document": "http://id.tincanapi.com/activitytype/document",
    "game": "http://activitystrea.ms/schema/1.0/game",
    "activity": "http://adlnet.gov/expapi/activities/lesson",
    "tip": "http://id.tincanapi.com/activitytype/resource",
    "course": "http://adlnet.gov/expapi/activities/course",
}
CSV_COLUMNS = ["event_id", "device", "time", "type", "item", "title", "kind", "value", "language", "search_text"]


def statement(event: dict, device_id: str, item: dict | None) -> dict:
    """An event as an xAPI statement; the actor is the box, never a person."""
    verb_id, verb_name = VERBS[event["type"]]
    out = {
        "id": str(uuid.UUID(hex=event["id"])),
        "actor": {"objectType": "Agent", "account": {"homePage": "urn:sanduq:device", "name": device_id}},
        "verb": {"id": verb_id, "display": {"en": verb_name}},
        "timestamp": event["time"],
        "context": {"platform": "Sanduq", "extensions": {"urn:sanduq:device": device_id}},
    }
    if event.get("lang"):
        out["context"]["language"] = event["lang"]
    if event["type"] == "search-empty":
        out["object"] = {"objectType": "Activity", "id": "urn:sanduq:search",
                         "definition": {"name": {"en": "library search"}}}
        out["result"] = {"success": False, "response": event.get("text") or ""}
    else:
        definition = {"name": item["title"]} if item else {}
        if item:
            definition["type"] = ACTIVITY_TYPES[item["kind"]]
        out["object"] = {"objectType": "Activity", "id": f"urn:sanduq:item:{event['item']}", "definition": definition}
        if event["type"] == "progress" and event.get("value") is not None:
            out["result"] = {"extensions": {"https://w3id.org/xapi/video/extensions/progress": event["value"]}}
        if event["type"] == "finished":
            out["result"] = {"completion": True}
    return out


def export_usage(library: Library, stick: Path) -> list[dict]:
    """Write the usage files onto STICK; return [{"file", "events"}]. OSError if the stick refuses."""
    folder = Path(stick) / "sanduq" / "exports" / library.device_id
    folder.mkdir(parents=True, exist_ok=True)
    items: dict[str, dict | None] = {}

    def item(item_id: str | None) -> dict | None:
        if item_id and item_id not in items:
            items[item_id] = library.catalog.get(item_id)
        return items.get(item_id) if item_id else None

    events = list(read_events(library.data_dir / "usage.db"))
    rows, lines = io.StringIO(), io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(CSV_COLUMNS)
    opened, finished, last = Counter(), Counter(), {}
    for event in events:
        found = item(event["item"])
        title = (found["title"].get("en") or next(iter(found["title"].values()))) if found else ""
        writer.writerow([event["id"], library.device_id, event["time"], event["type"], event["item"] or "",
                         title, found["kind"] if found else "", "" if event["value"] is None else event["value"],
                         event["lang"] or "", event["text"] or ""])
        lines.write(json.dumps(statement(event, library.device_id, found), ensure_ascii=False) + "\n")
        if event["type"] == "opened":
            opened[event["item"]] += 1
            last[event["item"]] = event["time"]
        elif event["type"] == "finished":
            finished[event["item"]] += 1
    summary = io.StringIO()
    writer = csv.writer(summary)
    writer.writerow(["device", "item", "title_tg", "title_ru", "title_en", "kind", "opened", "finished", "last_opened"])
    for item_id in sorted(set(opened) | set(finished), key=lambda i: (-opened[i], i)):
        found = item(item_id) or {"title": {}, "kind": ""}
        writer.writerow([library.device_id, item_id, found["title"].get("tg", ""), found["title"].get("ru", ""),
                         found["title"].get("en", ""), found["kind"], opened[item_id], finished[item_id],
                         last.get(item_id, "")])
    written = []
    for name, text, encoding, count in (("usage.csv", rows.getvalue(), "utf-8-sig", len(events)),
                                        ("usage.jsonl", lines.getvalue(), "utf-8", len(events)),
                                        ("summary.csv", summary.getvalue(), "utf-8-sig", len(opened | finished))):
        write_atomically(folder / name, text.encode(encoding))
        written.append({"file": f"sanduq/exports/{library.device_id}/{name}", "events": count})
    return written


def write_atomically(path: Path, data: bytes) -> None:
    """Write under a temporary name, fsync, rename: a pulled stick keeps the old file whole."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
