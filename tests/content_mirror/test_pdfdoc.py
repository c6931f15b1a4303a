"""A document's Markdown laid out as A4 pages of SVG (content_mirror/pdfdoc.py); the PDF itself
is made and read back in test_takehome.py."""

import re

from content_mirror import pdfdoc

MARKDOWN = """# План урока

**Возраст:** 4–5 лет  
*Длительность:* 25 минут, [подробнее](http://example.org)

## Цели

- считать до пяти
  1. вслух
  2. на пальцах
- узнавать цифры

> Хвалите усилие, а не результат.

![Дети считают яблоки](apples.jpg)

```
1 2 3
```

<script>alert(1)</script>
"""


def test_markdown_comes_out_as_blocks_of_plain_words():
    found = [(b.kind, b.words, b.level, b.mark) for b in pdfdoc.blocks(MARKDOWN)]
    assert found[:3] == [("heading", "План урока", 1, ""), ("para", "Возраст: 4–5 лет\nДлительность: 25 минут, подробнее", 0, ""),
                         ("heading", "Цели", 2, "")]
    marks = [(words, mark) for kind, words, _, mark in found if mark]
    assert marks == [("считать до пяти", "•"), ("вслух", "1."), ("на пальцах", "2."), ("узнавать цифры", "•")]
    assert ("para", "Хвалите усилие, а не результат.", 0, "") in found
    assert ("para", "Дети считают яблоки", 0, "") in found  # a picture: its description
    assert ("code", "1 2 3", 0, "") in found
    assert ("para", "<script>alert(1)</script>", 0, "") in found  # raw HTML is words, as the site shows it
    nested = next(b for b in pdfdoc.blocks(MARKDOWN) if b.words == "вслух")
    assert nested.indent > next(b for b in pdfdoc.blocks(MARKDOWN) if b.words == "считать до пяти").indent


def test_a_list_item_that_starts_with_code_keeps_its_bullet_and_code_in_a_quote_its_indent():
    found = pdfdoc.blocks("- ```\n  x = 1\n  ```\n\n  after the code\n- two\n\n> ```\n> quoted code\n> ```\n")
    shown = [(b.kind, b.words, b.indent, b.mark) for b in found]
    assert shown == [("para", "", 22.0, "•"), ("code", "x = 1", 22.0, ""), ("para", "after the code", 22.0, ""),
                     ("para", "two", 22.0, "•"), ("code", "quoted code", 16.0, "")]
    svg = pdfdoc.pages("Код", "- ```\n  x = 1\n  ```\n")[0]
    assert svg.index(">•<") < svg.index(">x = 1<"), "the bullet is drawn, above its code"


def test_a_long_document_runs_onto_numbered_pages_and_stays_inside_them():
    long = "\n\n".join(f"Абзац {n}: " + "слово " * 60 for n in range(40))
    pages = pdfdoc.pages("Длинный документ", long, "Автор · CC-BY-4.0")
    assert len(pages) > 3
    for number, svg in enumerate(pages, 1):
        assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" width="210mm" height="297mm"')
        assert f">{number} / {len(pages)}</text>" in svg
        ys = [float(y) for y in re.findall(r'<text[^>]* y="([\d.]+)"', svg)]
        assert max(ys) <= pdfdoc.PAGE_H - pdfdoc.MARGIN / 2 and min(ys) >= pdfdoc.MARGIN
    assert "Автор · CC-BY-4.0" in pages[-1] and "Длинный документ" in pages[0]


def test_the_documents_own_title_is_not_printed_twice_and_markup_stays_text():
    svg = pdfdoc.pages("План урока", MARKDOWN)[0]
    assert svg.count(">План урока<") == 1
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg and "<script" not in svg


def test_a_long_line_of_code_is_cut_to_stay_on_the_page():
    svg = pdfdoc.pages("Код", "```\n" + "x" * 400 + "\n```\n")[0]
    lines = re.findall(r'font-family="[^"]*Mono[^"]*">(x+)</text>', svg)
    assert "".join(lines) == "x" * 400 and len(lines) > 1
    assert all(len(one) * pdfdoc.BODY * 0.9 * 0.61 <= pdfdoc.PAGE_W - 2 * pdfdoc.MARGIN for one in lines)
