"""The e-mail a manager reads: low-stock alerts and the morning report, in English and Arabic.

Each message has a plain-text and an HTML body (mail programs show one or the other), English
first and Arabic after it (right to left in the HTML), with product names in both languages.
The subject says what it is before it is opened. The morning report also comes as a CSV
attachment (with a BOM, so Excel reads the Arabic names).
"""

from __future__ import annotations

import csv
import email.policy
import io
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from html import escape
from typing import Any
from uuid import UUID

# Rows of the morning report written into the body; all of them are in the attachment.
REPORT_BODY_ROWS = 200
SUBJECT_CHARS = 180
# How a message goes on the wire. Headers are not folded: Python's folder splits a run of
# Arabic words into encoded words with the spaces between them outside, and readers drop such
# spaces ("تقريرالمخزون"). Unfolded, a subject of SUBJECT_CHARS stays well under the 998-octet
# line limit. Bodies keep their 76-character lines (they are encoded when composed).
WIRE_POLICY = email.policy.SMTP.clone(max_line_length=998)

_UNITS_AR = {"piece": "قطعة", "kg": "كغ", "g": "غ", "l": "ل", "ml": "مل"}


def _name_ar(item: dict[str, Any]) -> str:
    return str(item.get("name_ar") or item["name"])


def _unit(item: dict[str, Any], arabic: bool = False) -> str:
    unit = str(item.get("base_unit") or "")
    return _UNITS_AR.get(unit, unit) if arabic else unit


def _html_page(english: str, arabic: str) -> str:
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>"
        "<body style=\"font-family: Arial, 'Noto Sans Arabic', sans-serif\">\n"
        f"<div lang=\"en\" dir=\"ltr\">{english}</div>\n<hr>\n"
        f"<div lang=\"ar\" dir=\"rtl\" style=\"text-align: right\">{arabic}</div>\n"
        "</body></html>\n"
    )


def _table(headers: list[str], rows: list[list[str]], rtl: bool = False) -> str:
    align = "right" if rtl else "left"
    head = "".join(f"<th style=\"text-align: {align}; padding: 4px 8px\">{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td style=\"padding: 4px 8px\">{escape(cell)}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f"<table style=\"border-collapse: collapse\" border=\"1\"><tr>{head}</tr>{body}</table>"


def _envelope(subject: str, *, sender: str, recipients: list[str], delivery_id: UUID,
              sent_at: datetime) -> EmailMessage:
    message = EmailMessage()
    # Names come from the catalogue: a line break in one must not end the header, and a
    # subject is read at a glance, so a long one is cut.
    subject = " ".join(subject.split())
    message["Subject"] = subject if len(subject) <= SUBJECT_CHARS else subject[:SUBJECT_CHARS - 1] + "…"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = make_msgid(idstring=delivery_id.hex, domain=sender.rpartition("@")[2] or None)
    # The outbox row's id: a message that was sent twice (a worker killed after the server
    # accepted it) can be recognised as one.
    message["X-Makhzan-Delivery"] = str(delivery_id)
    return message


def low_stock_message(payload: dict[str, Any], *, tenant_name: str, sender: str, recipients: list[str],
                      delivery_id: UUID, sent_at: datetime) -> EmailMessage:
    """One e-mail for the levels one sale (or stock document) took to or below their threshold."""
    items: list[dict[str, Any]] = payload["alerts"]
    locations = sorted({item["location_name"] for item in items})
    where = locations[0] if len(locations) == 1 else f"{len(locations)} locations"
    where_ar = locations[0] if len(locations) == 1 else f"{len(locations)} مواقع"
    if len(items) == 1:
        item = items[0]
        subject = (f"Low stock: {item['name']} at {where} ({item['quantity_after']} left)"
                   f" | مخزون منخفض: {_name_ar(item)} في {where_ar}")
    else:
        subject = f"Low stock: {len(items)} products at {where} | مخزون منخفض: {len(items)} منتجات في {where_ar}"
    message = _envelope(f"[{tenant_name}] {subject}", sender=sender, recipients=recipients,
                        delivery_id=delivery_id, sent_at=sent_at)

    lines_en = [f"{item['name']} ({item['sku']}) at {item['location_name']}: {item['quantity_after']} "
                f"{_unit(item)} left, threshold {item['threshold']}" for item in items]
    lines_ar = [f"{_name_ar(item)} ({item['sku']}) في {item['location_name']}: بقي {item['quantity_after']} "
                f"{_unit(item, True)}، الحد الأدنى {item['threshold']}" for item in items]
    text = (
        f"{tenant_name}: stock has just fallen to or below its low-stock threshold.\n\n"
        + "\n".join(f"- {line}" for line in lines_en)
        + "\n\nTime to reorder. Acknowledge the alerts in Makhzan (GET /api/v1/alerts).\n\n"
        + "----\n\n"
        + f"{tenant_name}: انخفض المخزون إلى الحد الأدنى أو دونه.\n\n"
        + "\n".join(f"- {line}" for line in lines_ar)
        + "\n\nحان وقت إعادة الطلب.\n"
    )
    rows = [[item["name"], _name_ar(item), item["sku"], item["location_name"],
             f"{item['quantity_after']} {_unit(item)}", str(item["threshold"])] for item in items]
    rows_ar = [[_name_ar(item), item["name"], item["sku"], item["location_name"],
                f"{item['quantity_after']} {_unit(item, True)}", str(item["threshold"])] for item in items]
    english = (f"<p><b>{escape(tenant_name)}</b>: stock has just fallen to or below its low-stock threshold.</p>"
               + _table(["Product", "Arabic name", "SKU", "Location", "Left", "Threshold"], rows)
               + "<p>Time to reorder.</p>")
    arabic = (f"<p><b>{escape(tenant_name)}</b>: انخفض المخزون إلى الحد الأدنى أو دونه.</p>"
              + _table(["المنتج", "الاسم بالإنكليزية", "الرمز", "الموقع", "المتبقي", "الحد الأدنى"], rows_ar, rtl=True)
              + "<p>حان وقت إعادة الطلب.</p>")
    message.set_content(text)
    message.add_alternative(_html_page(english, arabic), subtype="html")
    return message


def report_csv(rows: list[dict[str, Any]]) -> bytes:
    """The morning report as CSV for Excel: UTF-8 with a BOM, both names."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["sku", "name", "name_ar", "location", "quantity", "unit", "low_stock_threshold",
                     "suggested_reorder"])
    for row in rows:
        writer.writerow([row["sku"], row["name"], row.get("name_ar") or "", row["location_name"], row["quantity"],
                         row.get("base_unit") or "", row["low_stock_threshold"], row["suggested_reorder"]])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def daily_report_message(report_date: str, rows: list[dict[str, Any]], *, tenant_name: str, sender: str,
                         recipients: list[str], delivery_id: UUID, sent_at: datetime) -> EmailMessage:
    """The morning report: every level at or below its threshold, most depleted first."""
    count = len(rows)
    subject = (f"[{tenant_name}] Morning low-stock report {report_date}: {count} to reorder"
               f" | تقرير المخزون المنخفض {report_date}: {count}")
    message = _envelope(subject, sender=sender, recipients=recipients, delivery_id=delivery_id, sent_at=sent_at)
    shown = rows[:REPORT_BODY_ROWS]
    more = count - len(shown)
    more_en = f"\n... and {more} more: see the attached CSV.\n" if more else ""
    more_ar = f"\n... و{more} غيرها: انظر ملف CSV المرفق.\n" if more else ""
    if count:
        lines_en = [f"- {r['name']} ({r['sku']}) at {r['location_name']}: {r['quantity']} {_unit(r)} "
                    f"(threshold {r['low_stock_threshold']}), reorder {r['suggested_reorder']}" for r in shown]
        lines_ar = [f"- {_name_ar(r)} ({r['sku']}) في {r['location_name']}: {r['quantity']} {_unit(r, True)} "
                    f"(الحد الأدنى {r['low_stock_threshold']})، اطلب {r['suggested_reorder']}" for r in shown]
        intro_en = f"{count} levels are at or below their threshold, most depleted first:"
        intro_ar = f"{count} من المنتجات عند الحد الأدنى أو دونه، الأكثر نقصاً أولاً:"
    else:
        lines_en, lines_ar = [], []
        intro_en = "Nothing is at or below its threshold this morning."
        intro_ar = "لا شيء عند الحد الأدنى أو دونه هذا الصباح."
    text = (f"{tenant_name}: morning low-stock report for {report_date}.\n\n{intro_en}\n" + "\n".join(lines_en)
            + more_en + "\n----\n\n"
            + f"{tenant_name}: تقرير المخزون المنخفض ليوم {report_date}.\n\n{intro_ar}\n" + "\n".join(lines_ar)
            + more_ar)
    rows_en = [[r["name"], _name_ar(r), r["sku"], r["location_name"], f"{r['quantity']} {_unit(r)}",
                str(r["low_stock_threshold"]), str(r["suggested_reorder"])] for r in shown]
    rows_ar = [[_name_ar(r), r["name"], r["sku"], r["location_name"], f"{r['quantity']} {_unit(r, True)}",
                str(r["low_stock_threshold"]), str(r["suggested_reorder"])] for r in shown]
    english = (f"<h2>{escape(tenant_name)}: morning low-stock report, {escape(report_date)}</h2>"
               f"<p>{escape(intro_en)}</p>"
               + (_table(["Product", "Arabic name", "SKU", "Location", "Quantity", "Threshold", "Reorder"], rows_en)
                  if shown else "")
               + (f"<p>... and {more} more: see the attached CSV.</p>" if more else ""))
    arabic = (f"<h2>{escape(tenant_name)}: تقرير المخزون المنخفض، {escape(report_date)}</h2>"
              f"<p>{escape(intro_ar)}</p>"
              + (_table(["المنتج", "الاسم بالإنكليزية", "الرمز", "الموقع", "الكمية", "الحد الأدنى", "اطلب"],
                        rows_ar, rtl=True) if shown else "")
              + (f"<p>... و{more} غيرها: انظر ملف CSV المرفق.</p>" if more else ""))
    message.set_content(text)
    message.add_alternative(_html_page(english, arabic), subtype="html")
    if count:
        message.add_attachment(report_csv(rows), maintype="text", subtype="csv",
                               filename=f"low-stock-{report_date}.csv", params={"charset": "utf-8"})
    return message


def to_wire(message: EmailMessage) -> bytes:
    """The message as sent (CRLF line ends, headers unfolded: see WIRE_POLICY)."""
    return message.as_bytes(policy=WIRE_POLICY)
