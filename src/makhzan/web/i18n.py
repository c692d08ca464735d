"""Message catalogs and locale formatting for the screens.

Catalogs are JSON files ``web/locales/<lang>/*.json`` (flat ``{"key": "text"}``); every file
of a language is merged, so each part of the screens keeps its own file. A key missing in
Arabic falls back to English, then to the key itself (visible, so a test can catch it).
Texts use ``str.format`` fields: ``"Only {available} left"``.

Numbers and money go through Babel. Arabic uses the ``ar`` locale with Latin digits, as
Lebanese receipts and price tags do.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from babel.dates import format_datetime as babel_datetime
from babel.numbers import format_currency, format_decimal

LANGUAGES = ("en", "ar")
DEFAULT_LANGUAGE = "en"
LANG_COOKIE = "makhzan_lang"
_BABEL_LOCALE = {"en": "en_US", "ar": "ar"}
# What the browser's Intl API should use to format like Babel does (the till's JS).
JS_LOCALE = {"en": "en-US", "ar": "ar-u-nu-latn"}


def direction(lang: str) -> str:
    return "rtl" if lang == "ar" else "ltr"


@cache
def catalog(lang: str) -> dict[str, str]:
    """Every message of a language, merged from its files in name order."""
    merged: dict[str, str] = {}
    folder = resources.files("makhzan") / "web" / "locales" / lang
    if not folder.is_dir():
        return merged
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            merged.update(json.loads(entry.read_text(encoding="utf-8")))
    return merged


def translate(lang: str, key: str, **fields: Any) -> str:
    text = catalog(lang).get(key) or catalog(DEFAULT_LANGUAGE).get(key) or key
    return text.format(**fields) if fields else text


def pick_language(cookie: str | None, accept_language: str | None) -> str:
    """The language cookie if set, else the browser's first preference we have, else English."""
    if cookie in LANGUAGES:
        return cookie
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def number(lang: str, value: Any, places: int | None = None) -> str:
    if value is None:
        return ""
    amount = _decimal(value)
    if places is not None:
        pattern = "#,##0" + ("." + "0" * places if places else "")
        return format_decimal(amount, format=pattern, locale=_BABEL_LOCALE[lang], decimal_quantization=True)
    # Quantities: as many decimals as the value has (2.750 kg shows as 2.75), none for whole pieces.
    return format_decimal(amount.normalize() if amount == amount.to_integral() else amount,
                          locale=_BABEL_LOCALE[lang], decimal_quantization=False)


def money(lang: str, value: Any, currency: str) -> str:
    """An amount in its currency: two decimals for USD, none for LBP (CLDR's digits)."""
    if value is None:
        return ""
    return format_currency(_decimal(value), currency, locale=_BABEL_LOCALE[lang])


def date_time(lang: str, value: datetime | None, time_zone: str | None = None) -> str:
    if value is None:
        return ""
    return babel_datetime(value, "medium", tzinfo=time_zone, locale=_BABEL_LOCALE[lang])
