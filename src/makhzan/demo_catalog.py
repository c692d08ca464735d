"""The catalogue of the demo shop: "Dekkanet Hamra", a minimarket in Beirut.

Plain data only; ``makhzan.demo`` loads it into a fresh tenant. The barcodes are invented but
well formed: every GS1 code's check digit is computed here with python-stdnum, local goods use
Lebanon's GS1 prefix 528, imports use their countries' prefixes, cases and packs carry GTIN-14
codes derived from the unit's EAN-13, and weighed goods carry the base code of an in-store scale
label ("21" + 5-digit product code + "00000" + check digit). Prices are in USD; quantities,
thresholds and opening stock are in each product's base unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from stdnum import ean

DEMO_LOCATIONS: tuple[tuple[str, str], ...] = (("Hamra store", "store"), ("Back warehouse", "warehouse"))

DEMO_LBP_RATE = Decimal("89500")


@dataclass(frozen=True)
class DemoBarcode:
    barcode: str
    factor: Decimal
    unit: str  # "piece", "case", "pack", "bottle", "kg"...
    kind: str = "gs1"  # "gs1" or "internal"


@dataclass(frozen=True)
class DemoProduct:
    sku: str
    name: str
    name_ar: str
    base_unit: str  # piece | kg | g | l | ml
    price: Decimal  # USD per base unit
    low_stock_threshold: Decimal
    barcodes: tuple[DemoBarcode, ...]
    opening_stock: tuple[Decimal, Decimal]  # (store, warehouse), in base units


def _with_check_digit(body: str) -> str:
    if not body.isdigit() or len(body) not in (12, 13):
        raise ValueError(f"not a GS1 body: {body!r}")
    return body + ean.calc_check_digit(body)


def _item(body: str, *, unit: str = "piece", factor: str = "1",
          case: tuple[int, int, str] | None = None) -> tuple[DemoBarcode, ...]:
    """An EAN-13 from a 12-digit body and, optionally, its case: (indicator digit, factor, unit)."""
    code = _with_check_digit(body)
    codes = [DemoBarcode(code, Decimal(factor), unit)]
    if case is not None:
        indicator, case_factor, case_unit = case
        if not 1 <= indicator <= 8:
            raise ValueError(f"bad GTIN-14 indicator digit: {indicator}")
        case_code = _with_check_digit(f"{indicator}{code[:12]}")
        codes.append(DemoBarcode(case_code, Decimal(case_factor), case_unit))
    return tuple(codes)


def _scale(product_code: int) -> tuple[DemoBarcode, ...]:
    """The base code of a scale label: the weight is read from the label when it is scanned."""
    return (DemoBarcode(_with_check_digit(f"21{product_code:05d}00000"), Decimal(1), "kg"),)


def _internal(code: str, *, unit: str = "piece", factor: str = "1") -> tuple[DemoBarcode, ...]:
    return (DemoBarcode(code, Decimal(factor), unit, kind="internal"),)


def _product(sku: str, name: str, name_ar: str, base_unit: str, price: str, threshold: str,
             barcodes: tuple[DemoBarcode, ...], store: str, warehouse: str) -> DemoProduct:
    return DemoProduct(
        sku=sku, name=name, name_ar=name_ar, base_unit=base_unit, price=Decimal(price),
        low_stock_threshold=Decimal(threshold), barcodes=barcodes,
        opening_stock=(Decimal(store), Decimal(warehouse)),
    )


DEMO_PRODUCTS: tuple[DemoProduct, ...] = (
    # Dairy and eggs
    _product("MILK-1L", "Full-cream milk 1L", "حليب بقر كامل الدسم 1 ليتر", "piece", "1.50", "12",
             _item("528210100015", case=(1, 12, "case")), "30", "120"),
    _product("LABAN-1KG", "Laban (yogurt) 1kg", "لبن بقري 1 كلغ", "piece", "2.25", "6",
             _item("528210100022"), "4", "24"),
    _product("LABNEH-500G", "Labneh 500g", "لبنة بقرية 500 غ", "piece", "3.50", "6",
             _item("528210100039"), "10", "20"),
    _product("HALLOUMI-250G", "Halloumi cheese 250g", "جبنة حلوم 250 غ", "piece", "3.75", "5",
             _item("529004100118"), "12", "30"),
    _product("EGGS-PC", "Eggs, loose", "بيض بلدي (بالحبة)", "piece", "0.15", "60",
             _internal("EGGS-LOOSE") + _internal("EGGS-TRAY30", unit="tray", factor="30"), "90", "360"),
    # Weighed at the deli counter: scale-label base codes 21ppppp00000c
    _product("AKKAWI-KG", "Akkawi cheese", "جبنة عكاوي", "kg", "9.00", "2",
             _scale(1), "4.250", "15"),
    _product("KASHKAVAL-KG", "Kashkaval cheese", "جبنة قشقوان", "kg", "12.00", "1.5",
             _scale(2), "1.200", "8"),
    _product("MORTADELLA-KG", "Chicken mortadella", "مرتديلا دجاج", "kg", "8.50", "1.5",
             _scale(3), "3.000", "10"),
    _product("BASTERMA-KG", "Basterma", "بسطرما", "kg", "38.00", "0.5",
             _scale(4), "0.850", "3"),
    _product("BEEF-MINCED-KG", "Minced beef", "لحمة بقر مفرومة", "kg", "14.00", "2",
             _scale(5), "5.500", "0"),
    _product("OLIVES-GREEN-KG", "Green olives", "زيتون أخضر", "kg", "5.00", "2",
             _scale(6), "6.000", "20"),
    _product("SHANKLISH-KG", "Shanklish", "شنكليش", "kg", "11.00", "1",
             _scale(7), "0.750", "4"),
    # Bakery
    _product("KHEBEZ-L", "Arabic bread, large bag", "ربطة خبز عربي كبير", "piece", "0.90", "20",
             _item("528220300017"), "25", "0"),
    _product("KAAK-SESAME", "Ka'ak with sesame, bag", "كعك بالسمسم", "piece", "1.75", "6",
             _item("528220300024"), "12", "36"),
    _product("KAAK-LOOSE", "Street ka'ak (asrouniyeh)", "كعكة عصرونية بالسمسم", "piece", "0.50", "10",
             _internal("KAAK-LOOSE"), "8", "0"),
    # Grains, pulses, oils and spices
    _product("BULGUR-FINE-1KG", "Fine bulgur 1kg", "برغل ناعم 1 كلغ", "piece", "1.75", "8",
             _item("528310500016"), "20", "60"),
    _product("RICE-EGY-1KG", "Egyptian rice 1kg", "أرز مصري 1 كلغ", "piece", "1.50", "10",
             _item("622300700014"), "40", "200"),
    _product("LENTILS-RED-1KG", "Red split lentils 1kg", "عدس أحمر مجروش 1 كلغ", "piece", "1.75", "8",
             _item("528310500023"), "18", "50"),
    _product("CHICKPEAS-1KG", "Dry chickpeas 1kg", "حمص حب 1 كلغ", "piece", "2.00", "8",
             _item("528310500030"), "15", "40"),
    _product("TAHINI-450G", "Tahini 450g", "طحينة 450 غ", "piece", "4.50", "4",
             _item("528310500047"), "9", "24"),
    _product("OLIVE-OIL", "Extra virgin olive oil", "زيت زيتون بكر ممتاز", "l", "9.50", "6",
             _item("528310500054", unit="bottle") + _item("528310500061", unit="tin", factor="4"),
             "10", "48"),
    _product("SUNFLOWER-OIL", "Sunflower oil", "زيت دوار الشمس", "l", "2.40", "9",
             _item("869123400016", unit="bottle", factor="1.8"), "7.2", "108"),
    _product("ZAATAR-200G", "Za'atar mix 200g", "زعتر بلدي 200 غ", "piece", "2.50", "6",
             _item("528310500078"), "14", "40"),
    _product("SUMAC-100G", "Sumac 100g", "سماق 100 غ", "piece", "1.75", "4",
             _item("528310500085"), "6", "20"),
    _product("COFFEE-TURK-200G", "Turkish coffee with cardamom 200g", "قهوة مطحونة مع هال 200 غ", "piece",
             "4.25", "8", _item("528310600013"), "16", "48"),
    _product("TEA-100", "Black tea, 100 bags", "شاي أسود 100 كيس", "piece", "3.50", "4",
             _item("629100200019"), "8", "24"),
    _product("SUGAR-1KG", "White sugar 1kg", "سكر أبيض 1 كلغ", "piece", "1.10", "10",
             _item("528310700010"), "25", "150"),
    _product("FLOUR-1KG", "All-purpose flour 1kg", "طحين متعدد الاستعمالات 1 كلغ", "piece", "0.95", "8",
             _item("528310700027"), "12", "80"),
    _product("PASTA-SPAG-500G", "Spaghetti 500g", "معكرونة سباغيتي 500 غ", "piece", "0.90", "10",
             _item("800456700012", case=(1, 20, "case")), "24", "100"),
    _product("NOODLES-CHICKEN", "Instant noodles, chicken flavour", "نودلز سريعة التحضير بنكهة الدجاج",
             "piece", "0.40", "20", _item("899870100015", case=(1, 40, "case")), "36", "200"),
    # Canned and jarred
    _product("TOMATO-PASTE-400G", "Tomato paste 400g", "رب البندورة 400 غ", "piece", "1.25", "10",
             _item("528411000018", case=(1, 24, "case")), "20", "96"),
    _product("HUMMUS-CAN-400G", "Hummus with tahini, canned 400g", "حمص بالطحينة معلب 400 غ", "piece",
             "1.10", "8", _item("528411000025", case=(1, 24, "case")), "18", "96"),
    _product("FOUL-CAN-400G", "Foul medames, canned 400g", "فول مدمس 400 غ", "piece", "1.00", "8",
             _item("528411000032", case=(1, 24, "case")), "7", "96"),
    _product("SARDINES-125G", "Sardines in vegetable oil 125g", "سردين بالزيت النباتي 125 غ", "piece",
             "1.25", "10", _item("611203400016"), "20", "100"),
    _product("TUNA-160G", "Tuna in sunflower oil 160g", "تونة بزيت دوار الشمس 160 غ", "piece", "2.00", "12",
             _item("885012300013", case=(1, 48, "case")), "0", "96"),
    _product("JAM-APRICOT-400G", "Apricot jam 400g", "مربى المشمش 400 غ", "piece", "2.25", "4",
             _item("528411000049"), "8", "24"),
    _product("HALAWA-450G", "Halawa with pistachio 450g", "حلاوة طحينية بالفستق 450 غ", "piece", "3.25", "4",
             _item("528411000056"), "3", "18"),
    # Drinks
    _product("WATER-500ML", "Mineral water 500ml", "مياه معدنية 500 مل", "piece", "0.25", "24",
             _item("528512000014", case=(1, 12, "case")), "48", "480"),
    _product("WATER-1.5L", "Mineral water 1.5L", "مياه معدنية 1.5 ليتر", "piece", "0.50", "12",
             _item("528512000021", case=(2, 6, "pack")), "30", "360"),
    _product("COLA-330ML", "Cola, can 330ml", "مشروب غازي كولا 330 مل", "piece", "0.60", "24",
             _item("528512100011", case=(1, 24, "case")), "40", "480"),
    _product("JUICE-ORANGE-1L", "Orange juice 1L", "عصير برتقال 1 ليتر", "piece", "1.75", "6",
             _item("628100500017", case=(1, 12, "case")), "10", "72"),
    _product("ICETEA-PEACH-330ML", "Peach iced tea 330ml", "آيس تي بالدراق 330 مل", "piece", "0.80", "12",
             _item("528512100028", case=(1, 24, "case")), "12", "144"),
    _product("JALLAB-750ML", "Jallab syrup 750ml", "شراب الجلاب 750 مل", "piece", "3.00", "3",
             _item("528512200018"), "5", "12"),
    # Snacks and sweets
    _product("CHIPS-SALTED-25G", "Salted potato chips 25g", "شيبس بطاطا مملح 25 غ", "piece", "0.35", "24",
             _item("528613000013", case=(1, 24, "box")), "30", "240"),
    _product("BISCUIT-TEA-200G", "Tea biscuits 200g", "بسكويت شاي 200 غ", "piece", "0.75", "12",
             _item("528613000020", case=(1, 12, "box")), "20", "96"),
    _product("WAFER-CHOC", "Chocolate wafer bar", "ويفر بالشوكولا", "piece", "0.40", "24",
             _item("869456700019", case=(1, 24, "box")), "36", "240"),
    _product("CHOCO-MILK-100G", "Milk chocolate bar 100g", "لوح شوكولاتة بالحليب 100 غ", "piece", "1.50",
             "10", _item("400638300012"), "14", "60"),
    # Household
    _product("DISH-SOAP-750ML", "Dishwashing liquid 750ml", "سائل جلي 750 مل", "piece", "1.50", "6",
             _item("528714000011", case=(1, 12, "case")), "10", "48"),
    _product("LAUNDRY-3KG", "Automatic laundry powder 3kg", "مسحوق غسيل أوتوماتيك 3 كلغ", "piece", "7.50",
             "3", _item("869789000018"), "5", "20"),
    _product("BLEACH-1L", "Bleach 1L", "كلور للتنظيف 1 ليتر", "piece", "0.85", "6",
             _item("528714000028"), "12", "48"),
    _product("SPONGE-3", "Dish sponges, pack of 3", "إسفنج جلي 3 قطع", "piece", "0.75", "6",
             _item("690321000014"), "10", "36"),
    _product("TISSUES-200", "Facial tissues, box of 200", "علبة محارم 200 محرمة", "piece", "1.00", "10",
             _item("528714100018"), "8", "60"),
    _product("GARBAGE-BAGS-20", "Large garbage bags, 20", "أكياس نفايات كبيرة 20 كيس", "piece", "1.25", "5",
             _item("528714100025"), "10", "30"),
    _product("BATTERY-AA-4", "Alkaline AA batteries, 4 pack", "بطاريات AA قلوية 4 حبات", "piece", "3.00", "4",
             _item("541210000017"), "6", "12"),
)
