"""Usage events as xAPI 1.0.3 statements (the JSON Lines files of the stick's export).

What any learning record store accepts, and the same bytes every time an event is exported:

- the actor is the box, never a person: an account whose `homePage` is an IRL (a URL: the
  setting `xapi_home_page`, by default the box's own address on its Wi-Fi) and whose name is
  the device id;
- the statement's id is the event's (a UUID), so an event carried twice is a duplicate to an
  LRS, never a conflict; `timestamp` is written one way, UTC with milliseconds and `Z`, and left
  out when the box recorded no date (an LRS then stamps its own);
- language maps are keyed by RFC 5646 tags: the content's language codes (`tg`, `ru`, `ky`, `sr`…), and `en-US` for
  the verbs, as ADL and the Video Profile define them (a validator of the profile insists);
- videos follow the ADL xAPI Video Profile (https://w3id.org/xapi/video): opened is
  `initialized` and finished `completed`, with the video's `length`, the `progress` and the
  playhead `time`, and the profile named in `contextActivities.category`. The box sends a
  video's progress at quarters, which the profile has no verb for, so those stay ADL's
  `progressed`, shaped with the same category, length, progress and time. The box keeps no
  sessions (nothing links one viewing's events), so `session-id` is null;
- a search is acrossx's `searched` on the library's search, `result.success` saying whether it
  found something (a search that did keeps no words at all);
- a search text may hold something personal (a child's name typed into the search), so it stays
  out of the statements unless the setting `xapi_search_text` allows it (it is in the CSV,
  which stays with the programme).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

VERBS = {
    "opened": ("http://adlnet.gov/expapi/verbs/launched", "launched"),
    "progress": ("http://adlnet.gov/expapi/verbs/progressed", "progressed"),
    "finished": ("http://adlnet.gov/expapi/verbs/completed", "completed"),
    "search-empty": ("https://w3id.org/xapi/acrossx/verbs/searched", "searched"),
    "saved": ("http://id.tincanapi.com/verb/downloaded", "downloaded"),  # taken home on the phone
    "searched": ("https://w3id.org/xapi/acrossx/verbs/searched", "searched"),  # and found something
}
INITIALIZED = ("http://adlnet.gov/expapi/verbs/initialized", "initialized")  # a video opened
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
VIDEO = "https://w3id.org/xapi/video"
LENGTH, SESSION = f"{VIDEO}/extensions/length", f"{VIDEO}/extensions/session-id"
PROGRESS, TIME = f"{VIDEO}/extensions/progress", f"{VIDEO}/extensions/time"
DEVICE = "urn:sanduq:device"  # the context extension naming the box
CLOCK = "urn:sanduq:clock"  # and the one saying whether its clock was synced, unconfirmed or behind


def statement(event: dict, device_id: str, item: dict | None, *, home_page: str,
              search_text: bool = False) -> dict:
    """EVENT (a usage.db row as export.py cleans it) as an xAPI statement."""
    verb_id, verb_name = VERBS[event["type"]]
    out = {"id": statement_id(event["id"]),
           "actor": {"objectType": "Agent", "account": {"homePage": home_page, "name": device_id}}}
    context: dict = {"platform": "Sanduq", "extensions": {DEVICE: device_id}}
    if event.get("clock"):  # how far the box's clock could be trusted (server/clock.py)
        context["extensions"][CLOCK] = event["clock"]
    if event["lang"]:
        context["language"] = event["lang"]
    if event["type"] in ("search-empty", "searched"):
        out["object"] = {"objectType": "Activity", "id": "urn:sanduq:search",
                         "definition": {"name": {"en": "library search"}}}
        out["result"] = {"success": event["type"] == "searched"}
        if search_text and event["type"] == "search-empty":
            out["result"]["response"] = event["text"]
    else:
        out["object"] = {"objectType": "Activity", "id": f"urn:sanduq:item:{event['item']}"}
        if item:  # an item gone from the catalog has no definition: xAPI allows no empty one
            out["object"]["definition"] = {"name": item["title"], "type": ACTIVITY_TYPES[item["kind"]]}
        length = item.get("duration") if item and item["kind"] == "video" else None
        if length and event["type"] in ("opened", "progress", "finished"):
            verb_id, verb_name = INITIALIZED if event["type"] == "opened" else (verb_id, verb_name)
            _video(out, context, event, float(length))
        elif event["type"] == "progress" and event["value"] is not None:
            out["result"] = {"extensions": {PROGRESS: event["value"]}}
        elif event["type"] == "finished":
            out["result"] = {"completion": True}
    out["verb"] = {"id": verb_id, "display": {"en-US": verb_name}}  # as the verbs' own definitions
    stamp = timestamp(event["time"])
    if stamp:
        out["timestamp"] = stamp
    out["context"] = context
    return out


def _video(out: dict, context: dict, event: dict, length: float) -> None:
    """Shape a video's statement by the Video Profile: its category, length, progress and time."""
    context["contextActivities"] = {"category": [{"id": VIDEO, "objectType": "Activity",
                                                  "definition": {"type": "http://adlnet.gov/expapi/activities/profile"}}]}
    context["extensions"].update({LENGTH: length, SESSION: None})
    if event["type"] == "opened":
        return
    progress = 1.0 if event["type"] == "finished" else min(max(event["value"] or 0.0, 0.0), 1.0)
    out["result"] = {"extensions": {PROGRESS: progress, TIME: round(progress * length, 3)}}
    if event["type"] == "finished":
        out["result"]["completion"] = True


def timestamp(recorded: str) -> str | None:
    """RECORDED (the box's time of an event) as xAPI wants it, one way only:
    2026-03-01T10:00:00.123Z; None when it is not a date."""
    try:
        when = datetime.fromisoformat(recorded)
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        when = when.astimezone(timezone.utc)
    except (ValueError, OverflowError):  # not a date, or one that leaves the years a datetime holds
        return None
    if when.year < 1000:  # not ISO 8601's four digits
        return None
    return f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond // 1000:03d}Z"


def statement_id(event_id: str) -> str:
    """The event's id as a UUID; an id that is not one (an old or foreign row) is named stably."""
    try:
        return str(uuid.UUID(hex=event_id))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:sanduq:event:{event_id}"))
