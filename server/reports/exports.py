"""CSV and XLSX of report rows, safe to open in a spreadsheet."""
from __future__ import annotations

import csv
import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.page import PageMargins

#: The split of the credited hours comes last, after the columns exports
#: had before it: spreadsheets that read columns by position keep working.
COLUMNS = [("code", "编码"), ("name", "名称"), ("credited_hours", "认定服务时长(小时)"),
           ("pending_hours", "待审核时长(小时)"), ("sessions", "服务次数"), ("people", "人数"),
           ("proven_hours", "其中扫码证明(小时)"), ("reviewed_hours", "其中审核认定(小时)"),
           ("entered_hours", "其中事后补录(小时)")]
#: A cell starting with one of these would be run as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


_HOURS = ("credited", "proven", "reviewed", "entered", "pending")


def _with_hours(rows: list[dict]) -> list[dict]:
    """Hours to two decimals beside the seconds; the credited split is
    rounded from the seconds too, so a rounded part may differ from the
    rounded whole by 0.01."""
    return [{**r, **{f"{kind}_hours": round(r[f"{kind}_seconds"] / 3600, 2)
                     for kind in _HOURS}} for r in rows]


def _safe(value):
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def to_csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([zh for _, zh in COLUMNS])
    for row in _with_hours(rows):
        writer.writerow([_safe(row[key]) for key, _ in COLUMNS])
    # UTF-8 with BOM so that Excel on Windows reads the Chinese.
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(rows: list[dict], title: str) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "服务时长"
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([zh for _, zh in COLUMNS])
    for cell in sheet[2]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center")
    # Rows 1 and 2 are the title and the header. Cells are reached one by
    # one: sheet.max_row and sheet[n] walk every cell, which made a street's
    # month take minutes.
    for number, row in enumerate(_with_hours(rows), start=3):
        values = [row[key] for key, _ in COLUMNS]
        sheet.append(values)
        for column, value in enumerate(values, start=1):
            if isinstance(value, str):
                # Text stays text: openpyxl would store "=..." as a formula.
                sheet.cell(row=number, column=column).data_type = "s"
    for letter, width in zip("ABCDEFGHI", (18, 32, 20, 20, 12, 10, 18, 18, 18)):
        sheet.column_dimensions[letter].width = width
    sheet.print_title_rows = "2:2"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = 1
    sheet.page_margins = PageMargins(left=0.5, right=0.5, top=0.75, bottom=0.75)
    sheet.oddFooter.center.text = "第 &P 页 / 共 &N 页 · 草稿，须经组织盖章确认"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def export_response(rows: list[dict], fmt: str, title: str, name: str):
    """A download of ``rows`` as ``csv`` or ``xlsx`` named ``name`` (no extension)."""
    from flask import Response
    if fmt == "csv":
        body, mimetype = to_csv(rows), "text/csv"
    else:
        body = to_xlsx(rows, title)
        mimetype = XLSX_MIMETYPE
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})
