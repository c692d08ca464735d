from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from makhzan.text import normalize_for_search


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  Olive   OIL\t\n500ml ", "olive oil 500ml"),
        ("Straße", "strasse"),  # casefold, not lower
        ("ＡＢＣ１２３", "abc123"),  # full-width, NFKC
        ("ﬁsh", "fish"),  # ligature, NFKC
        ("أرز", "ارز"),
        ("إبريق", "ابريق"),
        ("آلة", "اله"),
        ("ٱلحليب", "الحليب"),
        ("مدرسة", "مدرسه"),
        ("مستشفى", "مستشفي"),
        ("مؤسسة", "موسسه"),
        ("شاطئ", "شاطي"),
        ("حَلِيبٌ", "حليب"),  # harakat
        ("زَيْتُونٌ", "زيتون"),  # sukun and tanwin
        ("الرَّحْمٰن", "الرحمن"),  # shadda and superscript alef
        ("كـــبـــير", "كبير"),  # tatweel
        ("حليب ١٢٣", "حليب 123"),  # Arabic-Indic digits
        ("شير ۴۵۶", "شير 456"),  # Eastern Arabic-Indic digits
        ("٠١٢٣٤٥٦٧٨٩ ۰۱۲۳۴۵۶۷۸۹", "0123456789 0123456789"),
        ("ﻻ", "لا"),  # presentation-form ligature, NFKC
        ("ﺃﺭﺯ", "ارز"),  # presentation forms of hamza-alef
        ("ا\u0653", "ا"),  # alef + combining maddah composes to آ, then folds
        ("حل\u200fيب", "حليب"),  # a stray right-to-left mark
        ("حل\u200cيب", "حليب"),  # zero-width non-joiner
        ("Pepsi بيبسي  1.25L", "pepsi بيبسي 1.25l"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_normalize_for_search(text: str, expected: str) -> None:
    assert normalize_for_search(text) == expected


def test_spelling_variants_meet() -> None:
    variants = ["أحمد", "احمد", "إحمد", "آحمد", "ٱحمد", "أَحْمَد"]
    assert {normalize_for_search(v) for v in variants} == {"احمد"}
    assert normalize_for_search("قهوة") == normalize_for_search("قهوه")
    assert normalize_for_search("على") == normalize_for_search("علي")


def test_query_is_found_in_folded_name() -> None:
    name = normalize_for_search("Nido حليب بودرة كامل الدسم ٤٠٠ غ")
    for query in ("NIDO", "حليب", "بودره", "400", "كامل الدسم"):
        assert normalize_for_search(query) in name


folded_alphabet = st.sampled_from(
    list("abcdefgh 123 ابتثجحخدذرزسشصضطظعغفقكلمنهوي٠١٢٣٤٥٦٧٨٩أإآٱةىؤئ\u064b\u0650\u0670\u0640\u200f")
)


@given(st.text())
def test_idempotent(text: str) -> None:
    once = normalize_for_search(text)
    assert normalize_for_search(once) == once


@given(st.text(alphabet=folded_alphabet))
def test_no_variants_survive(text: str) -> None:
    folded = normalize_for_search(text)
    assert not set(folded) & set("أإآٱةىؤئ\u0640٠١٢٣٤٥٦٧٨٩")
    assert not any("\u064b" <= ch <= "\u0652" for ch in folded)
    assert folded == folded.strip()
    assert "  " not in folded
