"""A synthetic library for the benchmarks: N items written straight as a manifest.

Items look like the programme's: every kind, titles and descriptions in Tajik, Russian and
English built from real words (so a search finds what a teacher would type), audiences,
subjects and ages; small payload files, most shared by many items; and one large video of
random bytes for the streaming test. Everything comes from one seed, so two runs build the
same library, and a data folder that already holds it is reused as it is.

    python3 bench/make_library.py DATA_DIR [--items 10000] [--video-mb 200]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
import shutil
import sys
import time
import zipfile
from pathlib import Path

import _project  # noqa: F401  (re-runs under .venv, puts the repo on sys.path)
from content_mirror.manifest import FORMAT
from server.importer import install
from server.library import Library

GENERATOR = 3  # bump when the library made here changes, so old data folders are rebuilt
MARKER = "bench-library.json"
CHANNEL = "bench"
MB = 1024 * 1024

# (English, Russian, Russian gender, Tajik): things a preschool talks about.
NOUNS = [
    ("cat", "кошка", "f", "гурба"), ("dog", "собака", "f", "саг"), ("horse", "лошадь", "f", "асп"),
    ("cow", "корова", "f", "гов"), ("sheep", "овца", "f", "гӯсфанд"), ("goat", "коза", "f", "буз"),
    ("chicken", "курица", "f", "мурғ"), ("fish", "рыба", "f", "моҳӣ"), ("bird", "птица", "f", "парранда"),
    ("lion", "лев", "m", "шер"), ("bear", "медведь", "m", "хирс"), ("wolf", "волк", "m", "гург"),
    ("fox", "лиса", "f", "рӯбоҳ"), ("rabbit", "заяц", "m", "харгӯш"), ("elephant", "слон", "m", "фил"),
    ("mouse", "мышь", "f", "муш"), ("camel", "верблюд", "m", "шутур"), ("donkey", "ослик", "m", "хар"),
    ("frog", "лягушка", "f", "қурбоққа"), ("butterfly", "бабочка", "f", "шапалак"),
    ("bee", "пчела", "f", "занбӯр"), ("turtle", "черепаха", "f", "сангпушт"),
    ("apple", "яблоко", "n", "себ"), ("pear", "груша", "f", "нок"), ("grapes", "виноград", "m", "ангур"),
    ("pomegranate", "гранат", "m", "анор"), ("watermelon", "арбуз", "m", "тарбуз"),
    ("melon", "дыня", "f", "харбуза"), ("apricot", "абрикос", "m", "зардолу"),
    ("cherry", "вишня", "f", "олуболу"), ("bread", "хлеб", "m", "нон"), ("milk", "молоко", "n", "шир"),
    ("water", "вода", "f", "об"), ("tea", "чай", "m", "чой"), ("rice", "рис", "m", "биринҷ"),
    ("carrot", "морковь", "f", "сабзӣ"), ("onion", "лук", "m", "пиёз"), ("soup", "суп", "m", "шӯрбо"),
    ("honey", "мёд", "m", "асал"), ("egg", "яйцо", "n", "тухм"), ("sun", "солнце", "n", "офтоб"),
    ("moon", "луна", "f", "моҳ"), ("star", "звезда", "f", "ситора"), ("sky", "небо", "n", "осмон"),
    ("cloud", "облако", "n", "абр"), ("rain", "дождь", "m", "борон"), ("snow", "снег", "m", "барф"),
    ("wind", "ветер", "m", "шамол"), ("tree", "дерево", "n", "дарахт"), ("flower", "цветок", "m", "гул"),
    ("leaf", "лист", "m", "барг"), ("grass", "трава", "f", "алаф"), ("mountain", "гора", "f", "кӯҳ"),
    ("river", "река", "f", "дарё"), ("lake", "озеро", "n", "кӯл"), ("stone", "камень", "m", "санг"),
    ("garden", "сад", "m", "боғ"), ("field", "поле", "n", "саҳро"), ("seed", "семечко", "n", "тухмӣ"),
    ("spring", "весна", "f", "баҳор"), ("summer", "лето", "n", "тобистон"),
    ("autumn", "осень", "f", "тирамоҳ"), ("winter", "зима", "f", "зимистон"),
    ("morning", "утро", "n", "субҳ"), ("evening", "вечер", "m", "бегоҳ"), ("night", "ночь", "f", "шаб"),
    ("day", "день", "m", "рӯз"), ("week", "неделя", "f", "ҳафта"), ("mother", "мама", "f", "модар"),
    ("father", "папа", "m", "падар"), ("grandmother", "бабушка", "f", "бибӣ"),
    ("grandfather", "дедушка", "m", "бобо"), ("brother", "брат", "m", "бародар"),
    ("sister", "сестра", "f", "хоҳар"), ("family", "семья", "f", "оила"), ("friend", "друг", "m", "дӯст"),
    ("teacher", "учитель", "m", "муаллим"), ("child", "ребёнок", "m", "кӯдак"),
    ("neighbour", "сосед", "m", "ҳамсоя"), ("doctor", "врач", "m", "духтур"), ("house", "дом", "m", "хона"),
    ("school", "школа", "f", "мактаб"), ("kindergarten", "детсад", "m", "кӯдакистон"),
    ("door", "дверь", "f", "дар"), ("window", "окно", "n", "тиреза"), ("book", "книга", "f", "китоб"),
    ("ball", "мяч", "m", "тӯб"), ("doll", "кукла", "f", "лӯхтак"), ("pencil", "карандаш", "m", "қалам"),
    ("paper", "бумага", "f", "коғаз"), ("table", "стол", "m", "миз"), ("chair", "стул", "m", "курсӣ"),
    ("bed", "кровать", "f", "кат"), ("car", "машина", "f", "мошин"), ("bus", "автобус", "m", "автобус"),
    ("bicycle", "велосипед", "m", "велосипед"), ("hat", "шапка", "f", "кулоҳ"),
    ("shoe", "ботинок", "m", "пойафзол"), ("clock", "часы", "m", "соат"), ("cup", "чашка", "f", "пиёла"),
    ("spoon", "ложка", "f", "қошуқ"), ("bag", "сумка", "f", "халта"), ("boat", "лодка", "f", "қаиқ"),
    ("drum", "барабан", "m", "дуҳул"), ("song", "песня", "f", "суруд"), ("story", "сказка", "f", "қисса"),
    ("game", "игра", "f", "бозӣ"), ("picture", "картинка", "f", "расм"), ("dance", "танец", "m", "рақс"),
    ("music", "музыка", "f", "мусиқӣ"), ("letter", "буква", "f", "ҳарф"), ("number", "число", "n", "рақам"),
    ("colour", "цвет", "m", "ранг"), ("shape", "фигура", "f", "шакл"), ("circle", "круг", "m", "доира"),
    ("triangle", "треугольник", "m", "секунҷа"), ("hand", "рука", "f", "даст"), ("eye", "глаз", "m", "чашм"),
    ("ear", "ухо", "n", "гӯш"), ("nose", "нос", "m", "бинӣ"), ("mouth", "рот", "m", "даҳон"),
    ("tooth", "зуб", "m", "дандон"), ("head", "голова", "f", "сар"), ("heart", "сердце", "n", "дил"),
    ("joy", "радость", "f", "шодӣ"), ("sadness", "грусть", "f", "ғам"), ("fear", "страх", "m", "тарс"),
    ("anger", "гнев", "m", "хашм"), ("kindness", "доброта", "f", "меҳрубонӣ"), ("soap", "мыло", "n", "собун"),
    ("sleep", "сон", "m", "хоб"), ("breakfast", "завтрак", "m", "наҳорӣ"), ("road", "дорога", "f", "роҳ"),
    ("market", "базар", "m", "бозор"),
]
# (English, Russian m/f/n, Tajik)
ADJECTIVES = [
    ("big", ("большой", "большая", "большое"), "калон"),
    ("little", ("маленький", "маленькая", "маленькое"), "хурд"),
    ("happy", ("весёлый", "весёлая", "весёлое"), "шод"),
    ("new", ("новый", "новая", "новое"), "нав"),
    ("good", ("добрый", "добрая", "доброе"), "хуб"),
    ("beautiful", ("красивый", "красивая", "красивое"), "зебо"),
    ("red", ("красный", "красная", "красное"), "сурх"),
    ("green", ("зелёный", "зелёная", "зелёное"), "сабз"),
    ("yellow", ("жёлтый", "жёлтая", "жёлтое"), "зард"),
    ("blue", ("синий", "синяя", "синее"), "кабуд"),
    ("white", ("белый", "белая", "белое"), "сафед"),
    ("black", ("чёрный", "чёрная", "чёрное"), "сиёҳ"),
    ("sleepy", ("сонный", "сонная", "сонное"), "хоболуд"),
    ("brave", ("смелый", "смелая", "смелое"), "далер"),
    ("clever", ("умный", "умная", "умное"), "доно"),
]
NUMBERS = [("one", "один", "як"), ("two", "два", "ду"), ("three", "три", "се"), ("four", "четыре", "чор"),
           ("five", "пять", "панҷ"), ("six", "шесть", "шаш"), ("seven", "семь", "ҳафт"),
           ("eight", "восемь", "ҳашт"), ("nine", "девять", "нӯҳ"), ("ten", "десять", "даҳ")]
# kind -> (English, Russian, Tajik) title prefixes
PREFIXES = {
    "video": [("Cartoon", "Мультфильм", "Филми тасвирӣ"), ("Video", "Видео", "Видео")],
    "audio": [("Audio story", "Аудиосказка", "Қиссаи овозӣ"), ("Song", "Песенка", "Суруд")],
    "book": [("Picture book", "Книжка", "Китобча"), ("Fairy tale", "Сказка", "Афсона")],
    "game": [("Game", "Игра", "Бозӣ"), ("Puzzle", "Головоломка", "Муаммо")],
    "activity": [("Activity", "Занятие", "Машғулият"), ("Play together", "Играем вместе", "Якҷоя бозӣ мекунем")],
    "tip": [("Parenting tip", "Совет родителям", "Маслиҳат ба волидон")],
    "document": [("Lesson plan", "План урока", "Нақшаи дарс"), ("Worksheet", "Рабочий лист", "Варақаи корӣ")],
    "course": [("Course", "Курс", "Курс"), ("Training", "Тренинг", "Омӯзиш")],
}
SUBJECT_NAMES = {
    "literacy": ("reading and letters", "чтение и буквы", "хондан ва ҳарфҳо"),
    "numeracy": ("counting", "счёт", "ҳисоб"),
    "socio-emotional": ("feelings and friendship", "чувства и дружба", "эҳсосот ва дӯстӣ"),
    "physical": ("movement", "движение", "ҳаракат"),
    "creative": ("drawing and crafts", "рисование и поделки", "расмкашӣ ва корҳои дастӣ"),
    "science": ("nature", "природа", "табиат"),
    "health": ("health", "здоровье", "саломатӣ"),
    "music": ("music", "музыка", "мусиқӣ"),
    "parenting": ("upbringing", "воспитание", "тарбия"),
    "teaching": ("teaching methods", "методика", "усули таълим"),
}
SENTENCES = {
    "en": ["Watch together with your parents.", "Ask your child what they saw.",
           "Repeat the words out loud.", "Sing along and clap your hands.",
           "Talk about the pictures before reading.", "Take a break and play outside.",
           "Praise every small success.", "Use things you have at home."],
    "ru": ["Смотрите вместе с родителями.", "Спросите ребёнка, что он увидел.",
           "Повторяйте слова вслух.", "Пойте вместе и хлопайте в ладоши.",
           "Рассмотрите картинки перед чтением.", "Сделайте перерыв и поиграйте на улице.",
           "Хвалите за каждый маленький успех.", "Используйте то, что есть дома."],
    "tg": ["Бо падару модар якҷоя тамошо кунед.", "Аз кӯдак пурсед, ки чӣ дид.",
           "Калимаҳоро баланд такрор кунед.", "Якҷоя суруд хонед ва каф занед.",
           "Пеш аз хондан расмҳоро бинед.", "Истироҳат кунед ва дар берун бозӣ кунед.",
           "Барои ҳар муваффақияти хурд таъриф кунед.", "Аз чизҳои хона истифода баред."],
}
KINDS = [("video", 20), ("book", 20), ("audio", 10), ("game", 10), ("activity", 15), ("tip", 10),
         ("document", 10), ("course", 5)]
LANG_SETS = [(("tg",), 20), (("ru",), 15), (("en",), 5), (("tg", "ru"), 35), (("tg", "ru", "en"), 25)]
AUDIENCE_OF = {"video": ["children"], "audio": ["children"], "book": ["children"], "game": ["children"],
               "activity": ["parents", "children"], "tip": ["parents"], "document": ["educators"],
               "course": ["educators"]}
SUBJECTS_OF = {"tip": ["parenting", "health", "socio-emotional"], "course": ["teaching"],
               "document": ["teaching", "literacy", "numeracy"]}
CHILD_SUBJECTS = ["literacy", "numeracy", "socio-emotional", "physical", "creative", "science",
                  "health", "music"]
LANGS = ("en", "ru", "tg")


def _choice(rng: random.Random, weighted):
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def _word(entry, lang: str) -> str:
    return entry[{"en": 0, "ru": 1, "tg": 3}[lang]]


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _phrase(rng: random.Random) -> dict[str, str]:
    """A short title phrase in the three languages: 'the happy fox', 'apple and pear'."""
    a, b = rng.sample(NOUNS, 2)
    shape = rng.random()
    if shape < 0.45:
        adj = rng.choice(ADJECTIVES)
        ru_adj = adj[1]["mfn".index(a[2])]
        return {"en": f"the {adj[0]} {a[0]}", "ru": f"{ru_adj} {a[1]}", "tg": f"{a[3]}и {adj[2]}"}
    if shape < 0.85:
        return {"en": f"the {a[0]} and the {b[0]}", "ru": f"{a[1]} и {b[1]}", "tg": f"{a[3]} ва {b[3]}"}
    n = rng.choice(NUMBERS)
    return {"en": f"counting to {n[0]}: {a[0]}", "ru": f"считаем до {n[1]}: {a[1]}", "tg": f"то {n[2]} ҳисоб: {a[3]}"}


def _description(rng: random.Random, lang: str, words: list, subject: str, ages) -> str:
    a, b, *more = words
    topic = SUBJECT_NAMES[subject][{"en": 0, "ru": 1, "tg": 2}[lang]]
    extra = ", ".join(_word(w, lang) for w in more)
    low, high = ages if ages else (3, 6)
    first = {"en": f"Children learn about the {a[0]} and the {b[0]}. Topic: {topic}. Ages {low}-{high}.",
             "ru": f"Дети узнают, что такое {a[1]} и {b[1]}. Тема: {topic}. Возраст: {low}–{high} лет.",
             "tg": f"Кӯдакон дар бораи {a[3]} ва {b[3]} меомӯзанд. Мавзӯъ: {topic}. Синну сол: {low}–{high}."}[lang]
    words_line = {"en": "Words", "ru": "Слова", "tg": "Калимаҳо"}[lang]
    return f"{first} {rng.choice(SENTENCES[lang])} {words_line}: {extra}."


def _sentence(rng: random.Random, lang: str) -> str:
    nouns = rng.sample(NOUNS, 3)
    return rng.choice(SENTENCES[lang]) + " " + ", ".join(_capital(_word(n, lang)) for n in nouns) + "."


class _Payloads:
    """Pools of small files by kind of content; items draw from them, so most are shared."""

    def __init__(self, rng: random.Random, n_items: int):
        self.rng = rng
        self.files: dict[str, dict] = {}
        self.data: dict[str, bytes] = {}
        scale = max(1, n_items // 100)
        self.pools = {
            "video": [self._add(self._binary(b"\x00\x00\x00\x18ftypmp42"), "video/mp4") for _ in range(3 * scale)],
            "poster": [self._add(self._binary(b"\xff\xd8\xff\xe0\x00\x10JFIF"), "image/jpeg") for _ in range(4 * scale)],
            "audio": [self._add(self._binary(b"ID3\x04\x00"), "audio/mpeg") for _ in range(2 * scale)],
            "pdf": [self._add(self._binary(b"%PDF-1.4\n"), "application/pdf") for _ in range(scale)],
            "zip": [self._add(self._game(), "application/zip") for _ in range(scale)],
            "svg": [self._add(self._svg(), "image/svg+xml") for _ in range(3 * scale)],
        }
        for lang in LANGS:
            self.pools[f"vtt-{lang}"] = [self._add(self._vtt(lang), "text/vtt") for _ in range(scale)]
            self.pools[f"md-{lang}"] = [self._add(self._markdown(lang), "text/markdown") for _ in range(2 * scale)]

    def _add(self, data: bytes, mime: str) -> str:
        sha = hashlib.sha256(data).hexdigest()
        self.files[sha] = {"size": len(data), "mime": mime}
        self.data[sha] = data
        return sha

    def _binary(self, magic: bytes) -> bytes:
        return magic + self.rng.randbytes(self.rng.randint(200, 700))

    def _game(self) -> bytes:
        """A real game zip (index.html at its top), as the importer's zip check demands."""
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(zipfile.ZipInfo("index.html", (2026, 1, 1, 0, 0, 0)),
                       b"<!doctype html><title>game</title><p>" + self.rng.randbytes(200).hex().encode())
        return out.getvalue()

    def _svg(self) -> bytes:
        r = self.rng
        shapes = "".join(f'<circle cx="{r.randint(5, 95)}" cy="{r.randint(5, 95)}" r="{r.randint(3, 30)}" '
                         f'fill="#{r.randrange(16**6):06x}"/>' for _ in range(r.randint(3, 8)))
        return f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">{shapes}</svg>'.encode()

    def _vtt(self, lang: str) -> bytes:
        cues = [f"{n}\n00:00:{2 * n:02d}.000 --> 00:00:{2 * n + 2:02d}.000\n{_sentence(self.rng, lang)}\n"
                for n in range(1, self.rng.randint(3, 6))]
        return ("WEBVTT\n\n" + "\n".join(cues)).encode()

    def _markdown(self, lang: str) -> bytes:
        title = _capital(_phrase(self.rng)[lang])
        body = "\n".join(f"- {_sentence(self.rng, lang)}" for _ in range(self.rng.randint(2, 5)))
        return f"# {title}\n\n{body}\n".encode()

    def pick(self, pool: str) -> str:
        return self.rng.choice(self.pools[pool])


def _item(rng: random.Random, n: int, payloads: _Payloads, activity_ids: list[str]) -> dict:
    kind = _choice(rng, KINDS)
    langs = list(_choice(rng, LANG_SETS))
    phrase = _phrase(rng)
    prefix = rng.choice(PREFIXES[kind])
    title = {lang: f"{prefix[{'en': 0, 'ru': 1, 'tg': 2}[lang]]}: {_capital(phrase[lang])}" for lang in langs}
    subjects = (rng.sample(SUBJECTS_OF[kind], rng.randint(1, len(SUBJECTS_OF[kind])))
                if kind in SUBJECTS_OF else rng.sample(CHILD_SUBJECTS, rng.randint(1, 2)))
    ages = None
    if kind not in ("document", "course"):
        low = rng.randint(3, 5)
        ages = (low, rng.randint(low, 6))
    words = rng.sample(NOUNS, 5)
    item = {"id": f"{kind}-{n:05d}", "kind": kind, "title": title,
            "description": {lang: _description(rng, lang, words, subjects[0], ages) for lang in langs},
            "languages": langs, "audiences": AUDIENCE_OF[kind], "subjects": subjects, "files": []}
    if ages:
        item["age_min"], item["age_max"] = ages
    files = item["files"]
    if kind in ("video", "audio", "book", "game", "course"):
        files.append({"role": "poster", "sha256": payloads.pick("poster")})
    if kind == "video":
        item["duration"] = rng.randint(30, 600)
        files.append({"role": "main", "sha256": payloads.pick("video")})
        files += [{"role": "subtitles", "lang": lang, "sha256": payloads.pick(f"vtt-{lang}")} for lang in langs]
    elif kind == "audio":
        item["duration"] = rng.randint(30, 900)
        files += [{"role": "main", "lang": lang, "sha256": payloads.pick("audio")} for lang in langs]
    elif kind == "book":
        item["pages"] = [{"text": {lang: _sentence(rng, lang) for lang in langs}} for _ in range(rng.randint(4, 8))]
        files += [{"role": "picture", "page": p, "sha256": payloads.pick("svg")}
                  for p in range(1, len(item["pages"]) + 1)]
    elif kind == "game":
        files.append({"role": "main", "sha256": payloads.pick("zip")})
    elif kind == "document":
        files += [{"role": "main", "lang": lang, "sha256": payloads.pick(f"md-{lang}")} for lang in langs]
        if rng.random() < 0.5:
            files.append({"role": "print", "sha256": payloads.pick("pdf")})
    elif kind == "activity":
        item["duration"] = rng.choice([600, 900, 1200, 1800])
        item["steps"] = {lang: [_sentence(rng, lang) for _ in range(rng.randint(3, 5))] for lang in langs}
        item["materials"] = {lang: [_capital(_word(w, lang)) for w in rng.sample(NOUNS, 3)] for lang in langs}
        activity_ids.append(item["id"])
    elif kind == "tip":
        item["text"] = {lang: " ".join(_sentence(rng, lang) for _ in range(3)) for lang in langs}
    elif kind == "course":
        item["modules"] = [{"title": {lang: f"{m}. {_capital(_phrase(rng)[lang])}" for lang in langs},
                            "lessons": rng.sample(activity_ids, min(3, len(activity_ids)))}
                           for m in range(1, rng.randint(2, 5))]
    return item


def build_manifest(n_items: int, seed: int = 1) -> tuple[dict, dict[str, bytes]]:
    """The manifest of N_ITEMS items and the bytes of its small files, by SHA-256."""
    rng = random.Random(seed)
    payloads = _Payloads(rng, n_items)
    activity_ids: list[str] = []
    items = [_item(rng, n, payloads, activity_ids) for n in range(1, n_items + 1)]
    manifest = {"format": FORMAT, "channel": CHANNEL, "sequence": 1, "full": True,
                "files": payloads.files, "items": items}
    return manifest, payloads.data


def query_words(count: int = 200, seed: int = 1) -> list[str]:
    """Distinct words a teacher or parent might search for, in the three languages."""
    rng = random.Random(seed)
    pool = ([n[3] for n in NOUNS] + [n[1] for n in NOUNS] + [n[0] for n in NOUNS]
            + [a[2] for a in ADJECTIVES] + [a[0] for a in ADJECTIVES])
    pool = list(dict.fromkeys(w for w in pool if " " not in w))
    return rng.sample(pool, min(count, len(pool)))


def _write_video(path: Path, size: int, seed: int) -> str:
    """SIZE random bytes at PATH; returns their SHA-256."""
    rng = random.Random(seed * 7919 + size)
    digest = hashlib.sha256()
    with path.open("wb") as f:
        left = size
        while left:
            chunk = rng.randbytes(min(8 * MB, left))
            digest.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def ensure_library(data_dir: Path, n_items: int = 10_000, video_mb: int = 200, seed: int = 1,
                   log=print) -> dict:
    """Make DATA_DIR hold the benchmark library (reusing it when it already does).

    The library holds N_ITEMS items, one of them the large video. Returns what the
    benchmarks need: an item id, the video's SHA-256 and size, query words.
    """
    data_dir = Path(data_dir)
    wanted = {"generator": GENERATOR, "items": n_items, "video_mb": video_mb, "seed": seed}
    marker = data_dir / MARKER
    if marker.is_file():
        info = json.loads(marker.read_text())
        if {k: info.get(k) for k in wanted} == wanted:
            library = Library(data_dir)
            if library.catalog.count() == n_items and library.store.has(info["video_sha"]):
                library.catalog.close()
                log(f"reusing the library in {data_dir}")
                return info
        shutil.rmtree(data_dir)
    started = time.monotonic()
    manifest, data = build_manifest(n_items - 1, seed)
    data_dir.mkdir(parents=True, exist_ok=True)
    video_path = data_dir / "video-source.tmp"
    size = video_mb * MB
    video_sha = _write_video(video_path, size, seed)
    manifest["files"][video_sha] = {"size": size, "mime": "video/mp4"}
    manifest["items"].insert(0, {
        "id": "bench-video", "kind": "video", "title": {"tg": "Филми калон", "ru": "Большой фильм",
                                                         "en": "The big film"},
        "description": {"en": "A large video for the streaming benchmark."}, "languages": ["tg", "ru", "en"],
        "audiences": ["children"], "subjects": ["science"], "age_min": 3, "age_max": 6, "duration": 1800,
        "files": [{"role": "main", "sha256": video_sha}]})

    def open_file(sha: str):
        return video_path.open("rb") if sha == video_sha else io.BytesIO(data[sha])

    library = Library(data_dir)
    try:
        result = install(library, manifest, open_file)
    finally:
        library.catalog.close()
        video_path.unlink(missing_ok=True)
    items = manifest["items"]
    info = dict(wanted, video_sha=video_sha, video_size=size,
                item_id=next(i["id"] for i in items[len(items) // 2:] if i["kind"] == "video"),
                queries=query_words(seed=seed))
    marker.write_text(json.dumps(info, ensure_ascii=False, indent=1))
    log(f"built {result.items} items, {result.files_copied} files in {data_dir} "
        f"in {time.monotonic() - started:.1f} s")
    return info


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data_dir", type=Path, help="library data folder (made or reused)")
    p.add_argument("--items", type=int, default=10_000, help="number of items (default 10000)")
    p.add_argument("--video-mb", type=int, default=200, help="size of the large video in MB (default 200)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    args = p.parse_args(argv)
    info = ensure_library(args.data_dir, args.items, args.video_mb, args.seed)
    print(f"video: /files/{info['video_sha']}.mp4 ({info['video_size']} bytes); item: {info['item_id']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
