"""Product search through ``GET /api/v1/products?q=``: Arabic spelling variants and diacritics,
English typos within pg_trgm's word similarity, SKUs and barcodes, LIKE metacharacters taken
literally, and never another tenant's products."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from tests.support import ServerProcess, Shop, ean13, new_shop


def add(shop: Shop, name: str, name_ar: str | None = None, *, sku: str | None = None,
        barcodes: list[dict[str, Any]] | None = None) -> str:
    body: dict[str, Any] = {"sku": sku or f"S-{uuid.uuid4().hex[:8]}", "name": name, "price": "1.000",
                            "barcodes": barcodes if barcodes is not None else [{"barcode": ean13()}]}
    if name_ar is not None:
        body["name_ar"] = name_ar
    product_id: str = shop.admin.ok("POST", "/products", body, 201)["id"]
    return product_id


def search(shop: Shop, q: str) -> list[str]:
    response = shop.admin.get("/products", params={"q": q})
    assert response.status_code == 200, response.text
    return [p["id"] for p in response.json()["products"]]


@pytest.fixture
def grocer(shop: Shop) -> tuple[Shop, dict[str, str]]:
    """A shop with a small bilingual catalogue, the ids by short name."""
    ids = {
        "rice": add(shop, "Egyptian rice 1kg", "أرز مصري 1 كلغ"),
        "milk": add(shop, "Fresh milk 1L", "حليب طازة ١ لتر", sku="MILK-1L"),
        "nuts": add(shop, "Salted mixed nuts", "مكسرات مملّحة"),
        "tea": add(shop, "Green tea", "شاي أخضر"),
        "halawa": add(shop, "Halawa with pistachio", "حلاوة بالفستق"),
        "sweets": add(shop, "Sweets box", "حلوى مشكلة"),
        "cheese": add(shop, "Haloumi cheese", "جبنة حلوم"),
        "chocolate": add(shop, "Chocolate bar", "لوح شوكولا"),
        "mozzarella": add(shop, "Mozzarella", "جبنة موزاريلا"),
        "mayo": add(shop, "Mayonnaise jar", "مايونيز"),
        "tomatoes": add(shop, "Peeled tomatoes", "طماطم مقشرة"),
    }
    return shop, ids


@pytest.mark.parametrize(("query", "expected"), [
    ("ارز", "rice"),  # hamza on alef in the name, bare alef typed
    ("أرز", "rice"),
    ("إرز", "rice"),  # the other hamza form, folded the same way
    ("طازه", "milk"),  # ta marbuta in the name, ha typed
    ("طازة", "milk"),
    ("مكسرات مملحه", "nuts"),  # shadda in the name, none typed, and ha for ta marbuta
    ("مُمَلَّحَة", "nuts"),  # full vowel marks typed
    ("اخضر", "tea"),
    ("شاي أخضر", "tea"),
    ("حلوي", "sweets"),  # alef maksura in the name, ya typed
    ("حلـــوى", "sweets"),  # tatweel typed
    ("حليب 1 لتر", "milk"),  # Arabic-Indic digit in the name, a Western digit typed
    ("١ لتر", "milk"),
    ("FRESH MILK", "milk"),  # case does not matter
    ("milk-1", "milk"),  # part of the SKU
    ("MILK-1L", "milk"),
])
def test_arabic_and_spelling_variants(grocer: tuple[Shop, dict[str, str]], query: str, expected: str) -> None:
    shop, ids = grocer
    found = search(shop, query)
    assert ids[expected] in found, (query, found)
    assert found[0] == ids[expected], (query, found)


def test_a_name_with_ya_is_found_by_alef_maksura(shop: Shop) -> None:
    # The reverse fold: the catalogue has ي, the shopper types ى.
    product = add(shop, "Mustafa's coffee", "قهوة مصطفي")
    assert search(shop, "مصطفى") == [product]


@pytest.mark.parametrize(("query", "expected"), [
    ("chocolat", "chocolate"),  # a prefix
    ("chocolte", "chocolate"),  # a letter left out
    ("halloumi", "cheese"),  # a letter doubled
    ("mozzarela", "mozzarella"),
    ("mayonaise", "mayo"),
    ("tomatos", "tomatoes"),
])
def test_english_typos_within_word_similarity(grocer: tuple[Shop, dict[str, str]], query: str, expected: str) -> None:
    shop, ids = grocer
    found = search(shop, query)
    assert found and found[0] == ids[expected], (query, found)
    # A typo finds what it resembles, not the whole catalogue.
    assert len(found) <= 2, (query, found)


def test_unrelated_words_find_nothing(grocer: tuple[Shop, dict[str, str]]) -> None:
    shop, _ = grocer
    for query in ("detergent", "zzzz", "كرتون"):
        assert search(shop, query) == [], query


def test_sku_and_barcodes_full_and_partial(shop: Shop) -> None:
    unit_code, case_code = ean13(), ean13()
    product = add(shop, "Cola can", "كولا", sku="COLA-330",
                  barcodes=[{"barcode": unit_code}, {"barcode": case_code, "factor": "24", "unit": "case"}])
    upc = add(shop, "Corn flakes", sku="CORN-1", barcodes=[{"barcode": "036000291452"}])
    loose = add(shop, "Loose bread", sku="BREAD-1", barcodes=[{"barcode": "BREAD-LOOSE", "kind": "internal"}])
    assert search(shop, "COLA-330") == [product]
    assert search(shop, "cola-3") == [product]
    assert search(shop, unit_code) == [product]
    assert search(shop, case_code) == [product]
    assert search(shop, unit_code[3:10]) == [product]
    # Stored as the EAN-13 0036000291452: the UPC-A the shopper reads off the pack finds it.
    assert search(shop, "036000291452") == [upc]
    assert search(shop, "0036000291452") == [upc]
    assert search(shop, "bread-loose") == [loose]
    assert search(shop, "LOOSE") == [loose]


def test_like_metacharacters_are_literal(shop: Shop) -> None:
    percent = add(shop, "Juice 100% orange", sku="JUICE-1")
    underscore = add(shop, "Snack box", sku="SNACK_2")
    add(shop, "Plain water", sku="WATER-3")
    add(shop, "Backslash-free soap", sku="SOAP-4")
    assert search(shop, "%") == [percent]
    assert search(shop, "_") == [underscore]
    assert search(shop, "100%") == [percent]
    assert search(shop, "snack_") == [underscore]
    assert search(shop, "%%") == []
    assert search(shop, "k_2") == [underscore]
    assert search(shop, "\\") == []
    # Not a wildcard: "s_a" would match "soap" and "snack" if _ were one.
    assert search(shop, "s_a") == []


def test_other_tenants_products_never_appear(shop: Shop, server: ServerProcess, app_database: str) -> None:
    other = new_shop(server.url, app_database)
    code = ean13()
    theirs = add(other, "Zaatar mix", "زعتر مخلوط", sku="ZAATAR-1", barcodes=[{"barcode": code}])
    assert search(other, "zaatar") == [theirs]
    assert search(shop, "zaatar") == []
    assert search(shop, "زعتر") == []
    assert search(shop, code) == []
    assert search(shop, "ZAATAR-1") == []
    # The same SKU and barcode in this tenant: each tenant finds its own product only.
    mine = add(shop, "Zaatar mix", "زعتر", sku="ZAATAR-1", barcodes=[{"barcode": code}])
    assert search(shop, code) == [mine]
    assert search(other, code) == [theirs]
    assert search(shop, "zatar") == [mine]


def test_search_respects_limit_and_empty_query_lists(shop: Shop) -> None:
    made = {add(shop, f"Bulk item {i}", sku=f"BULK-{i:02d}") for i in range(5)}
    assert len(search(shop, "bulk item")) == 5
    response = shop.admin.get("/products", params={"q": "bulk", "limit": 2})
    assert len(response.json()["products"]) == 2
    # A blank query, or one that folds to nothing (only vowel marks), lists the catalogue.
    for blank in ("   ", "\u064e\u0651"):
        assert set(search(shop, blank)) == made, blank
