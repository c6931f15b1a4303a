"""Make the Serbian Latin catalog (sr_Latn) from the Cyrillic one (sr), letter for letter.

    .venv/bin/python server/translations/serbian_latin.py

Run it after translating server/translations/sr, then compile: translators write Serbian once.
tests/server/test_i18n.py fails when the two catalogs disagree. Needs Babel (a translator's and
the tests' dependency, not the box's).
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from server.languages import to_latin  # noqa: E402  (the repository, whichever way this is run)


def main() -> None:
    with (HERE / "sr" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        cyrillic = read_po(f)
    target = HERE / "sr_Latn" / "LC_MESSAGES" / "messages.po"
    with target.open("rb") as f:
        latin = read_po(f)
    for message in latin:
        if message.id and message.id in cyrillic:
            source = cyrillic[message.id].string
            message.string = tuple(map(to_latin, source)) if isinstance(source, (tuple, list)) else to_latin(source)
            message.flags.discard("fuzzy")
    with target.open("wb") as f:
        write_po(f, latin, width=100)
    print(f"Written: {target}")


if __name__ == "__main__":
    main()
