"""Every word the workbook and the HTML report show, in English and Russian.

A table of two languages, not a gettext catalog: the report runs on an officer's laptop, and
its readers (programme staff, ministries) read one of these two. A test checks that both
languages name every key and that the Russian has no English left in it.
"""

from __future__ import annotations

LANGUAGES = ("en", "ru")

TEXT = {
    "en": {
        "title": "Sanduq: how families use the library",
        "made": "Made {date} from {boxes} boxes and {events} events.",
        "as_of": "Report date",
        "readme": "About",
        "readme_text": ("Each sheet is one table. Events are counted once, by their id, however many sticks "
                        "carried them. Weeks are ISO weeks of the box's clock; events whose time is not believable "
                        "are kept in the totals but not in the weeks (see Data quality). Empty searches are shown "
                        "only when typed at {min} schools or more."),
        "coverage": "Boxes", "weeks": "Schools by week", "items": "Items", "languages": "Languages",
        "empty_searches": "Searches not found", "quality": "Data quality",
        "school": "School", "device": "Box", "first_event": "First event", "last_event": "Last event",
        "active_days": "Active days", "events": "Events", "last_visit": "Last visit (stick)",
        "clock": "Clock at last visit", "events_behind": "Events, clock behind",
        "events_unconfirmed": "Events, clock not confirmed", "duplicates": "Duplicates (counted once)",
        "refused": "Rows refused", "conflicts": "Conflicts", "weeks_silent": "Weeks silent",
        "week": "Week", "opened": "Opened", "finished": "Finished",
        "videos_watched": "Videos watched past 3/4", "saved": "Saved to phones", "searches": "Searches",
        "item": "Item", "title_tg": "Title (Tajik)", "title_ru": "Title (Russian)", "title_en": "Title (English)",
        "title_ky": "Title (Kyrgyz)", "title_uz": "Title (Uzbek)", "title_sr": "Title (Serbian)",
        "title_cnr": "Title (Montenegrin)",
        "kind": "Kind", "schools": "Schools", "language": "Language", "query": "Searched for",
        "times": "Times", "last_seen": "Last seen", "finding": "Finding", "school_or_box": "School or box",
        "detail": "Detail", "count": "Count",
        "events_kept": "Events kept", "undated": "Events without a date",
        "time_unbelievable": "Events with an unbelievable time (before 2020 or after the report date)",
        "clock_behind": "Events recorded while the box's clock was behind", "silent": "Silent for weeks",
        "never_heard": "No events yet", "no_believable_time": "Events, but none at a believable time (check its clock)",
        "refused:bad-text": "Refused: text with a NUL character", "conflict": "Conflict: same event id, different content",
        "refused:bad-id": "Refused: not an event id a box writes", "refused:other-box": "Refused: another box's row",
        "refused:bad-type": "Refused: unknown event type", "refused:bad-time": "Refused: time not readable",
        "refused:bad-value": "Refused: value not a number in range", "refused:bad-clock": "Refused: unknown clock state",
        "refused:too-long": "Refused: text too long", "refused:unreadable-row": "Refused: row not readable as CSV",
        "chart_weeks": "Items opened per week, all schools",
        "chart_schools": "Items opened per school",
        "chart_items": "Most opened items",
        "chart_searches": "What families searched for and did not find",
        "no_searches": "No search was typed in vain at {min} schools or more.",
        "nothing": "Nothing yet: add sticks with sanduq-report add.",
        "quality_summary": "Before trusting the numbers",
        "more": "and {n} more in the workbook",
        "clock_synced": "synced", "clock_unconfirmed": "not confirmed", "clock_behind_state": "behind",
    },
    "ru": {
        "title": "Сандук: как семьи пользуются библиотекой",
        "made": "Составлено {date}: {boxes} библиотек, {events} событий.",
        "as_of": "Дата отчёта",
        "readme": "О таблице",
        "readme_text": ("Каждый лист — одна таблица. Каждое событие считается один раз, по его номеру, сколько бы "
                        "флешек его ни принесли. Недели — по часам библиотеки (ISO); события с неправдоподобным "
                        "временем входят в итоги, но не в недели (см. «Качество данных»). Ненайденные запросы "
                        "показаны, только если их набирали в {min} школах или больше."),
        "coverage": "Библиотеки", "weeks": "Школы по неделям", "items": "Материалы", "languages": "Языки",
        "empty_searches": "Не найдено в поиске", "quality": "Качество данных",
        "school": "Школа", "device": "Библиотека", "first_event": "Первое событие", "last_event": "Последнее событие",
        "active_days": "Дней с событиями", "events": "Событий", "last_visit": "Последний приезд (флешка)",
        "clock": "Часы при последнем приезде", "events_behind": "Событий, часы отставали",
        "events_unconfirmed": "Событий, часы не проверены", "duplicates": "Повторы (посчитаны один раз)",
        "refused": "Отклонено строк", "conflicts": "Противоречия", "weeks_silent": "Недель без данных",
        "week": "Неделя", "opened": "Открыто", "finished": "Досмотрено до конца",
        "videos_watched": "Видео просмотрено больше чем на 3/4", "saved": "Сохранено на телефоны",
        "searches": "Поисков", "item": "Материал", "title_tg": "Название (тадж.)", "title_ru": "Название (рус.)",
        "title_en": "Название (англ.)", "title_ky": "Название (кирг.)", "title_uz": "Название (узб.)",
        "title_sr": "Название (серб.)", "title_cnr": "Название (черног.)", "kind": "Вид", "schools": "Школ", "language": "Язык",
        "query": "Что искали", "times": "Раз", "last_seen": "Последний раз", "finding": "Что найдено",
        "school_or_box": "Школа или библиотека", "detail": "Подробности", "count": "Число",
        "events_kept": "Событий сохранено", "undated": "Событий без даты",
        "time_unbelievable": "Событий с неправдоподобным временем (до 2020 года или после даты отчёта)",
        "clock_behind": "Событий, записанных, когда часы библиотеки отставали",
        "silent": "Нет данных несколько недель", "never_heard": "Событий пока нет",
        "no_believable_time": "События есть, но ни одного с правдоподобным временем (проверьте часы)",
        "refused:bad-text": "Отклонено: в тексте нулевой символ",
        "conflict": "Противоречие: один номер события, разное содержание",
        "refused:bad-id": "Отклонено: номер события не такой, как пишет библиотека",
        "refused:other-box": "Отклонено: строка другой библиотеки",
        "refused:bad-type": "Отклонено: неизвестный вид события", "refused:bad-time": "Отклонено: время не читается",
        "refused:bad-value": "Отклонено: значение не число или вне пределов",
        "refused:bad-clock": "Отклонено: неизвестное состояние часов",
        "refused:too-long": "Отклонено: слишком длинный текст",
        "refused:unreadable-row": "Отклонено: строку не удалось прочитать",
        "chart_weeks": "Открыто материалов по неделям, все школы",
        "chart_schools": "Открыто материалов по школам",
        "chart_items": "Чаще всего открывали",
        "chart_searches": "Что семьи искали и не нашли",
        "no_searches": "Ни один ненайденный запрос не набирали в {min} школах или больше.",
        "nothing": "Пока пусто: добавьте флешки командой sanduq-report add.",
        "quality_summary": "Прежде чем доверять числам",
        "more": "и ещё {n} в таблице",
        "clock_synced": "сверены", "clock_unconfirmed": "не проверены", "clock_behind_state": "отставали",
    },
}


def texts(lang: str) -> dict[str, str]:
    return TEXT[lang if lang in TEXT else "en"]


def clock_word(t: dict[str, str], state: str | None) -> str:
    """A box's clock state (synced, unconfirmed, behind) in the words of T."""
    return {"synced": t["clock_synced"], "unconfirmed": t["clock_unconfirmed"],
            "behind": t["clock_behind_state"]}.get(state or "", state or "")
