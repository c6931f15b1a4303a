"""What the interface calls kinds, audiences and subjects, and the words families search them by.

The names are gettext msgids (English): the site shows each in the reader's language
(server/pages.py), and the catalog indexes an item's kind and audience names in every
interface language at once (server/catalog.py), so "книжка", "китоб" or "games" finds the
items of that kind whatever language the phone shows.
"""

from __future__ import annotations

from functools import lru_cache

from server.i18n import CATALOGS, LANGUAGES
from server.languages import N_

KIND_NAMES = {"video": N_("Videos"), "audio": N_("Songs and stories"), "book": N_("Picture books"),
              "document": N_("Readings"), "game": N_("Games"), "activity": N_("Activities"),
              "tip": N_("Tips"), "course": N_("Courses")}
AGES = (2, 3, 4, 5, 6)  # the ages a phone can choose in /browse and /api/facets
AUDIENCE_NAMES = {"children": N_("Children"), "parents": N_("Parents"), "educators": N_("Teachers")}
SUBJECT_NAMES = {"literacy": N_("Letters and words"), "numeracy": N_("Numbers"),
                 "socio-emotional": N_("Feelings and friends"), "physical": N_("Movement"),
                 "creative": N_("Art and making"), "science": N_("The world around us"),
                 "health": N_("Health"), "music": N_("Music"), "parenting": N_("Parenting"),
                 "teaching": N_("Teaching")}

# The words a family types for a kind or an audience, whatever the interface calls it: a
# parent asks for "книга" or "сказка", not "Книжки с картинками" or "Песни и рассказы", and
# the search box's own placeholder offers a story and a song. Some repeat a word of a name, so
# they stay found when a translation changes. Not translations: searched words, any language,
# one form each (search folds and stems them, and matches prefixes).
KIND_WORDS = {
    "video": "видео фильм мультфильм мультик кино филм video film cartoon",
    "audio": "песня сказка рассказ стих аудио суруд афсона қисса ҳикоя шеър song story tale rhyme audio",
    "book": "книга книжка китоб book",
    "document": "текст статья документ матн мақола ҳуҷҷат text article document",
    "game": "игра бозӣ game",
    "activity": "занятие упражнение машғулият activity",
    "tip": "совет маслиҳат tip advice",
}
AUDIENCE_WORDS = {
    "children": "дети ребёнок малыш кӯдак бача child kid",
    "parents": "родители волидайн parent",
    "educators": "воспитатель учитель педагог тарбиятгар муаллим омӯзгор teacher educator",
}


@lru_cache(maxsize=64)
def search_words(kind: str, audiences: tuple[str, ...]) -> str:
    """The words an item of KIND for AUDIENCES is found by: their names in every interface
    language, and the words of KIND_WORDS and AUDIENCE_WORDS."""
    names = [KIND_NAMES[kind]] if kind in KIND_NAMES else []
    names += [AUDIENCE_NAMES[a] for a in audiences if a in AUDIENCE_NAMES]
    found = [CATALOGS[lang].gettext(name) for name in names for lang in LANGUAGES]
    found += [KIND_WORDS.get(kind, "")] + [AUDIENCE_WORDS.get(a, "") for a in audiences]
    return " ".join(found)
