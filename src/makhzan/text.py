"""Text folding for product search in English and Arabic.

Products are stored with a folded ``search_text`` and queries are folded the same way, so the
two only have to agree with each other: this function is the one place that decides.
"""

from __future__ import annotations

import unicodedata


def _build_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    # Harakat (fathatan .. sukun) and superscript alef: optional vowel marks that a shopper
    # types rarely and a supplier's catalogue sometimes has.
    for code in range(0x064B, 0x0652 + 1):
        table[code] = None
    table[0x0670] = None
    # Maddah and hamza written as combining marks: NFKC composes them onto alef, waw and yeh
    # when it can, the table below folds those, and the leftovers must not block a match.
    for code in (0x0653, 0x0654, 0x0655):
        table[code] = None
    # Tatweel only stretches a word for looks.
    table[0x0640] = None
    # Invisible format characters that copy-pasted Arabic text carries (zero-width joiners,
    # direction marks, isolates, BOM); they would split a word in two for LIKE and trigrams.
    for code in (*range(0x200B, 0x200F + 1), *range(0x202A, 0x202E + 1), *range(0x2066, 0x2069 + 1)):
        table[code] = None
    table[0x061C] = None
    table[0xFEFF] = None
    # Spelling variants people use interchangeably: hamza forms of alef, ta marbuta / ha,
    # alef maksura / ya, hamza on waw and on ya.
    for letter in "أإآٱ":
        table[ord(letter)] = "ا"
    table[ord("ة")] = "ه"
    table[ord("ى")] = "ي"
    table[ord("ؤ")] = "و"
    table[ord("ئ")] = "ي"
    # Persian yeh and keheh come from Persian keyboard layouts and look the same as ي and ك.
    table[0x06CC] = "ي"
    table[0x06A9] = "ك"
    # Arabic-Indic and Eastern Arabic-Indic digits: a price or size typed either way must match.
    for value in range(10):
        table[0x0660 + value] = str(value)
        table[0x06F0 + value] = str(value)
    return table


# Built once at import: search folds every product on save and every query keystroke.
_TABLE = _build_table()


def normalize_for_search(text: str) -> str:
    """``text`` folded so that case, Arabic spelling variants, diacritics and digits do not matter."""
    # NFKC first: it turns presentation forms (ﻻ, ﺃ), full-width letters and ligatures into the
    # plain letters that the table and casefold know about.
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_TABLE)
    return " ".join(folded.split())
