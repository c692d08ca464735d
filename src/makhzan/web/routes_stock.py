"""Back office: stock by location, a product's ledger with its running balance and chart, and the
stock documents (receive, transfer, adjust, count) made by scanning."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from itertools import zip_longest
from typing import Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from makhzan import catalog, errors, inventory, tenancy
from makhzan.api.state import read, transact
from makhzan.db import Connection
from makhzan.models import (
    AdjustmentIn,
    AdjustmentLineIn,
    CountIn,
    CountLineIn,
    QuantityLineIn,
    ReceiptIn,
    TransferIn,
)
from makhzan.queries import Q
from makhzan.web import auth, i18n
from makhzan.web.accounts import SessionUser
from makhzan.web.i18n import translate
from makhzan.web.render import language, render

router = APIRouter(include_in_schema=False)
LEVELS_PAGE = 200
SEARCH_PRODUCTS = 50
CHART_LEFT = 48
LEDGER_PAGE = 100
KINDS = ("receive", "transfer", "adjust", "count")
ADJUST_REASONS = ("waste", "damage", "theft", "expired", "correction", "other")


async def _locations(conn: Connection, who: tenancy.Principal) -> list[dict[str, Any]]:
    found = await tenancy.list_locations(conn, who.tenant_id)
    # A key or user bound to one location sees and moves that location's stock only.
    return [loc for loc in found if who.location_id is None or loc["id"] == who.location_id]


@router.get("/stock")
async def stock_levels(
    request: Request,
    user: SessionUser = Depends(auth.backoffice),
    location_id: UUID | None = Query(None),
    after_sku: str = Query("", max_length=64, pattern=r"^[^\x00]*$"),
    after_location: UUID | None = Query(None),
    q: str = Query("", max_length=100, pattern=r"^[^\x00]*$"),
) -> Response:
    who = user.principal
    if who.location_id is not None:
        location_id = who.location(location_id)

    async def work(conn: Connection) -> dict[str, Any]:
        locations = await _locations(conn, who)
        if q.strip():
            # The catalogue's Arabic-aware search, then the levels of what it found.
            found = await catalog.search_products(conn, who.tenant_id, q, SEARCH_PRODUCTS)
            cur = await conn.execute(Q.levels_of_products, {"tenant_id": who.tenant_id, "location_id": location_id,
                                                            "product_ids": [p["id"] for p in found]})
            return {"locations": locations, "levels": list(await cur.fetchall()), "searched": True}
        levels = await inventory.list_stock(conn, who.tenant_id, location_id=location_id, product_id=None,
                                            limit=LEVELS_PAGE, after_sku=after_sku, after_location=after_location)
        return {"locations": locations, "levels": levels, "searched": False}

    found = await read(request, who, work)
    levels = found["levels"]
    more = levels[-1] if len(levels) == LEVELS_PAGE and not found["searched"] else None
    return render(request, "stock/levels.html", {
        **found, "q": q, "location_id": location_id, "names": {loc["id"]: loc["name"] for loc in found["locations"]},
        "next": {"after_sku": more["sku"], "after_location": more["location_id"]} if more else None,
    })


# --- the ledger -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    points: str  # an SVG polyline's points, a step line of the level over time
    top: Decimal
    bottom: Decimal
    start: datetime | None
    end: datetime | None


def running_balance(movements: list[dict[str, Any]], level_after_newest: Decimal) -> Decimal:
    """Give each movement (newest first) the level just after it; returns the level before the oldest.

    The ledger stores no balances (a late offline sale would force re-posting them): they are
    worked out backwards from the current level, which always equals the sum of the movements.
    """
    balance = level_after_newest
    for movement in movements:
        movement["balance"] = balance
        balance -= movement["delta"]
    return balance


def level_chart(movements: list[dict[str, Any]], level_before: Decimal, now: datetime,
                width: int = 600, height: int = 160) -> Chart | None:
    """A step line of the level across the movements shown (drawn server-side: no chart library)."""
    if not movements:
        return None
    steps = [(m["recorded_at"], m["balance"]) for m in reversed(movements)]
    start, end = steps[0][0], max(now, steps[-1][0])
    values = [level_before] + [balance for _, balance in steps]
    top, bottom = max(values), min(min(values), Decimal(0))
    span_t = (end - start).total_seconds() or 1.0
    span_v = float(top - bottom) or 1.0
    pad = 8

    def x(at: datetime) -> float:
        # The left margin holds the level labels.
        return CHART_LEFT + (width - CHART_LEFT - pad) * (at - start).total_seconds() / span_t

    def y(value: Decimal) -> float:
        return pad + (height - 2 * pad) * (1 - float(value - bottom) / span_v)

    points, previous = [], level_before
    for at, balance in steps:
        points += [f"{x(at):.1f},{y(previous):.1f}", f"{x(at):.1f},{y(balance):.1f}"]
        previous = balance
    points.append(f"{x(end):.1f},{y(previous):.1f}")
    return Chart(width, height, " ".join(points), top, bottom, start, end)


def _signed(lang: str, value: Decimal) -> str:
    """A change with its sign (+4, -2); CLDR's Arabic number pattern starts with a right-to-left
    mark, which would carry a leading "+" to the far side of the number."""
    text = i18n.number(lang, abs(value)).replace("\u200f", "").replace("\u061c", "")
    return ("+" if value > 0 else "-" if value < 0 else "") + text


@router.get("/stock/products/{product_id}")
async def ledger(
    product_id: UUID,
    request: Request,
    user: SessionUser = Depends(auth.backoffice),
    location_id: UUID | None = Query(None),
    before: int = Query(2**62, ge=1),
    # The level after the newest movement of this page, carried by the "older" link; plain digits
    # only, so a crafted link cannot make the page format a number with a million digits.
    balance: str | None = Query(None, pattern=r"^-?[0-9]{1,15}(\.[0-9]{1,3})?$"),
) -> Response:
    who = user.principal
    if who.location_id is not None:
        location_id = who.location(location_id)

    async def work(conn: Connection) -> dict[str, Any]:
        # One snapshot for the levels and the movements, so a sale between the two reads cannot
        # put the running balance off by its quantity.
        await conn.execute(Q.repeatable_read)
        product = await catalog.get_product(conn, who.tenant_id, product_id)
        cur = await conn.execute(Q.product_level_by_location, {"tenant_id": who.tenant_id, "product_id": product_id})
        levels = list(await cur.fetchall())
        movements = await inventory.list_movements(conn, who.tenant_id, product_id, location_id=location_id,
                                                   before=before, limit=LEDGER_PAGE)
        return {"product": product, "levels": levels, "movements": movements,
                "locations": await _locations(conn, who)}

    found = await transact(request, who, work)
    levels = [lv for lv in found["levels"] if location_id is None or lv["location_id"] == location_id]
    if who.location_id is not None:
        levels = [lv for lv in levels if lv["location_id"] == who.location_id]
    now_level = sum((lv["quantity"] for lv in levels), Decimal(0))
    movements = found["movements"]
    start = Decimal(balance) if balance is not None and before < 2**62 else now_level
    level_before = running_balance(movements, start)
    more = len(movements) == LEDGER_PAGE
    return render(request, "stock/ledger.html", {
        **found, "levels": levels, "level_now": now_level, "location_id": location_id,
        "names": {loc["id"]: loc["name"] for loc in found["locations"]},
        "chart": level_chart(movements, level_before, datetime.now(UTC)), "chart_left": CHART_LEFT,
        "reasons": ADJUST_REASONS, "signed": partial(_signed, language(request)),
        "next": {"before": movements[-1]["movement_id"], "balance": level_before} if more else None,
    })


# --- documents by scanning --------------------------------------------------------------------


@router.get("/stock/scan")
async def scan_line(
    request: Request,
    user: SessionUser = Depends(auth.backoffice),
    code: str = Query("", max_length=64),
    kind: str = Query("receive"),
) -> Response:
    """One line for a scanned code, appended to the document's lines by htmx."""
    who = user.principal
    code = code.strip()
    try:
        if not code or "\x00" in code:
            raise errors.InvalidBarcode("Scan or type a barcode.", {"barcode": code})
        found = await read(request, who, lambda conn: catalog.resolve_codes(conn, who.tenant_id, [code]))
    except errors.MakhzanError as exc:
        # Shown beside the scan field; the lines stay as they are.
        return render(request, "stock/scan_error.html", {"message": exc.message, "code": code},
                      headers={"HX-Retarget": "#scan-message", "HX-Reswap": "innerHTML"})
    item = found[code]
    line = {"barcode": item.barcode, "label": _label(item.product, request), "quantity": "1",
            "per_scan": item.quantity, "unit": item.product["base_unit"], "scan_unit": item.unit}
    return render(request, "stock/line.html", {"line": line, "kind": kind})


def _label(product: dict[str, Any], request: Request) -> str:
    lang = language(request)
    return (product.get("name_ar") if lang == "ar" and product.get("name_ar") else product["name"]) or ""


def _lines(form: Any) -> list[dict[str, str]]:
    rows = zip_longest(form.getlist("barcode"), form.getlist("quantity"), form.getlist("label"), fillvalue="")
    return [{"barcode": b, "quantity": q.strip(), "label": label} for b, q, label in rows if b.strip()]


def _document(kind: str, form: Any, lines: list[dict[str, str]], who: tenancy.Principal) -> Any:
    doc_id = UUID(form.get("doc_id", ""))
    location = form.get("location_id") or None
    if kind == "receive":
        return ReceiptIn(id=doc_id, location_id=location, supplier=form.get("supplier", "").strip() or None,
                         lines=[QuantityLineIn(barcode=ln["barcode"], quantity=ln["quantity"]) for ln in lines])
    if kind == "transfer":
        return TransferIn(id=doc_id, from_location_id=form.get("from_location_id"),
                          to_location_id=form.get("to_location_id"),
                          lines=[QuantityLineIn(barcode=ln["barcode"], quantity=ln["quantity"]) for ln in lines])
    if kind == "adjust":
        return AdjustmentIn(id=doc_id, location_id=location, reason=form.get("reason", "correction"),
                            note=form.get("note", "").strip() or None,
                            lines=[AdjustmentLineIn(barcode=ln["barcode"], delta=ln["quantity"]) for ln in lines])
    return CountIn(id=doc_id, location_id=location,
                   lines=[CountLineIn(barcode=ln["barcode"], counted=ln["quantity"]) for ln in lines])


async def _post(conn: Connection, who: tenancy.Principal, kind: str, body: Any) -> tuple[dict[str, Any], bool]:
    now = datetime.now(UTC)
    if kind == "transfer":
        who.check_location(body.from_location_id)
        return await inventory.transfer(conn, who.tenant_id, key_id=who.key_id, request=body, now=now)
    location = who.location(body.location_id)
    if kind == "receive":
        return await inventory.receive(conn, who.tenant_id, key_id=who.key_id, location_id=location, receipt=body,
                                       now=now)
    if kind == "adjust":
        return await inventory.adjust(conn, who.tenant_id, key_id=who.key_id, location_id=location, request=body,
                                      now=now)
    counted = await _count_by_product(conn, who.tenant_id, body)
    return await inventory.count(conn, who.tenant_id, key_id=who.key_id, location_id=location, request=counted,
                                 now=now)


async def _count_by_product(conn: Connection, tenant_id: UUID, body: CountIn) -> CountIn:
    """One line per product: a shelf is counted by scanning its cases and its loose pieces alike,
    and the level becomes their sum in base units."""
    items = await catalog.resolve_codes(conn, tenant_id, [ln.barcode for ln in body.lines if ln.barcode])
    totals: dict[UUID, Decimal] = {}
    for line in body.lines:
        assert line.barcode is not None
        item = items[line.barcode]
        product_id = item.product["product_id"]
        totals[product_id] = totals.get(product_id, Decimal(0)) + line.counted * item.quantity
    return CountIn(id=body.id, location_id=body.location_id, occurred_at=body.occurred_at,
                   lines=[CountLineIn(product_id=pid, counted=counted) for pid, counted in totals.items()])


async def _document_page(request: Request, who: tenancy.Principal, kind: str, *, lines: list[dict[str, str]],
                         form: Any = None, problems: list[str] | None = None, done: dict[str, Any] | None = None,
                         status_code: int = 200) -> HTMLResponse:
    locations = await read(request, who, lambda conn: _locations(conn, who))
    values = dict(form or {})
    # A new id after each posted document; a failed post keeps its id, so resending it after a
    # network error can never post the same goods twice.
    doc_id = values.get("doc_id") if problems else str(uuid4())
    return render(request, "stock/document.html", {
        "kind": kind, "kinds": KINDS, "locations": locations, "lines": lines, "values": values, "doc_id": doc_id,
        "problems": problems or [], "done": done, "reasons": ADJUST_REASONS,
    }, status_code=status_code)


@router.get("/stock/{kind}")
async def document_form(kind: str, request: Request, user: SessionUser = Depends(auth.backoffice)) -> Response:
    if kind not in KINDS:
        raise errors.NotFound("No such page.", {"kind": kind})
    return await _document_page(request, user.principal, kind, lines=[])


@router.post("/stock/{kind}")
async def post_document(kind: str, request: Request, user: SessionUser = Depends(auth.backoffice)) -> Response:
    if kind not in KINDS:
        raise errors.NotFound("No such page.", {"kind": kind})
    who = user.principal
    form = await request.form()
    lines = _lines(form)
    try:
        body = _document(kind, form, lines, who)
        document, _ = await transact(request, who, lambda conn: _post(conn, who, kind, body))
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return await _document_page(request, who, kind, lines=lines, form=form, problems=problems, status_code=422)
    except ValueError:
        stale = translate(language(request), "bo.stale_form")
        return await _document_page(request, who, kind, lines=lines, form=form, problems=[stale], status_code=422)
    except errors.MakhzanError as exc:
        problems = [exc.message]
        for short in exc.details.get("lines", []) if isinstance(exc, errors.InsufficientStock) else []:
            problems.append(f"{short['product_id']}: {short['requested']} > {short['available']}")
        return await _document_page(request, who, kind, lines=lines, form=form, problems=problems,
                                    status_code=exc.status)
    labels = {ln["barcode"]: ln["label"] for ln in lines}
    names = await read(request, who, lambda conn: _names(conn, who.tenant_id,
                                                         [ln["product_id"] for ln in document["lines"]]))
    done = {"id": document["id"], "lines": [{**ln, "name": names.get(ln["product_id"], "")}
                                            for ln in document["lines"]], "labels": labels}
    return await _document_page(request, who, kind, lines=[], done=done)


async def _names(conn: Connection, tenant_id: UUID, product_ids: list[UUID]) -> dict[UUID, str]:
    cur = await conn.execute(Q.products_by_ids, {"tenant_id": tenant_id, "product_ids": product_ids})
    return {row["product_id"]: row["name"] for row in await cur.fetchall()}
