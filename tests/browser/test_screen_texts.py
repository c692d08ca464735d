"""Every text the screens ask for exists in English and in Arabic (no browser needed)."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from makhzan.web import i18n

WEB = Path(str(resources.files("makhzan") / "web"))
# A literal key in a template (t("nav.till")) or in the till's script (t("till.done", ...)).
_KEY = re.compile(r"""\bt\(\s*["']([a-z_]+\.[a-z0-9_.-]+)["']""")


# The back-office pages (products, stock, reports) keep their texts in their own catalog files
# and are checked with them; these are the foundation's, the till's, the dashboard's and settings'.
_OTHERS = ("products", "stock", "reports")


def used_keys() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in [*WEB.glob("templates/**/*.html"), *WEB.glob("static/*.js")]:
        if path.name.endswith(".min.js") or set(path.relative_to(WEB).parts) & set(_OTHERS):
            continue
        for key in _KEY.findall(path.read_text(encoding="utf-8")):
            if not key.endswith("."):  # the fixed part of a composed key: t("role." ~ role)
                found.setdefault(key, set()).add(path.name)
    return found


def test_every_literal_key_is_in_both_languages() -> None:
    used = used_keys()
    assert "till.complete" in used and "nav.dashboard" in used
    missing = {lang: sorted(k for k in used if k not in i18n.catalog(lang)) for lang in i18n.LANGUAGES}
    assert missing == {lang: [] for lang in i18n.LANGUAGES}


def test_arabic_has_every_english_text_and_the_same_fields() -> None:
    english, arabic = i18n.catalog("en"), i18n.catalog("ar")
    assert sorted(set(english) - set(arabic)) == []
    fields = re.compile(r"\{(\w+)\}")
    different = [key for key in english if key in arabic
                 and set(fields.findall(english[key])) != set(fields.findall(arabic[key]))]
    assert different == []


def test_numbers_and_money_per_locale() -> None:
    assert i18n.money("en", "1234.5", "USD") == "$1,234.50"
    assert i18n.money("en", "111875.4", "LBP") == "LBP111,875"
    assert "1,234.50" in i18n.money("ar", "1234.5", "USD")
    assert i18n.number("en", "2.750") == "2.75"
    assert i18n.number("ar", "1234") == "1,234"
    assert i18n.direction("ar") == "rtl" and i18n.direction("en") == "ltr"
    assert i18n.pick_language(None, "ar-LB,ar;q=0.9,en;q=0.8") == "ar"
    assert i18n.pick_language("en", "ar") == "en"
    assert i18n.pick_language("xx", "fr-FR") == "en"
