"""Reading spreadsheets (CSV or XLSX) into rows keyed by canonical column names."""
from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from server.errors import ValidationFailed

#: Header aliases secretaries use, Chinese and English, to canonical names.
HEADER_ALIASES = {
    "code": "code", "编码": "code", "编号": "code", "代码": "code",
    "name": "name", "名称": "name", "姓名": "name",
    "kind": "kind", "类型": "kind", "类别": "kind", "人员类型": "kind", "人员类别": "kind",
    "站点类型": "kind", "组织类型": "kind",
    "parent": "parent", "上级": "parent", "上级编码": "parent",
    "area": "area", "区域": "area", "所在区域": "area",
    "phone": "phone", "手机": "phone", "手机号": "phone", "电话": "phone",
    "volunteer_number": "volunteer_number", "志愿者编号": "volunteer_number",
    "branch": "branch", "支部": "branch", "所在支部": "branch", "组织": "branch",
    "branch_since": "branch_since", "入支部日期": "branch_since",
    "home_area": "home_area", "居住社区": "home_area",
    "host_organisation": "host_organisation", "主办组织": "host_organisation",
    "address": "address", "地址": "address",
    "latitude": "latitude", "纬度": "latitude",
    "longitude": "longitude", "经度": "longitude",
    "geofence_radius_m": "geofence_radius_m", "半径": "geofence_radius_m",
    "opening_hours": "opening_hours", "开放时间": "opening_hours",
}
MAX_ROWS = 50_000


def read_rows(filename: str, data: bytes) -> list[tuple[int, dict]]:
    """``(line number, {column: text})`` for every non-empty data row.

    Line numbers are those a spreadsheet program shows (the header is line 1).

    :raise ValidationFailed: ``unreadable_file`` or ``unknown_column``.
    """
    lower = filename.lower()
    if lower.endswith(".xlsx"):
        table = _xlsx_table(data)
    elif lower.endswith(".csv") or lower.endswith(".txt"):
        table = _csv_table(data)
    else:
        raise ValidationFailed("Upload a .csv or .xlsx file.", {"file": ["unsupported type"]},
                               code="unreadable_file")
    if not table:
        raise ValidationFailed("The file is empty.", {"file": ["empty"]}, code="unreadable_file")
    header = [str(h or "").strip() for h in table[0]]
    unknown = [h for h in header if h and h not in HEADER_ALIASES]
    if unknown:
        raise ValidationFailed(f"Unknown columns: {', '.join(unknown)}.",
                               {"1": [f"unknown column {h!r}" for h in unknown]},
                               code="unknown_column")
    names = [HEADER_ALIASES.get(h) for h in header]
    rows = []
    for line, values in enumerate(table[1:], start=2):
        row = {}
        for name, value in zip(names, values):
            if name is None:
                continue
            text = "" if value is None else str(value).strip()
            if text:
                row[name] = text
        if row:
            rows.append((line, row))
    if len(rows) > MAX_ROWS:
        raise ValidationFailed(f"At most {MAX_ROWS} rows per file.", {"file": ["too many rows"]},
                               code="too_many_rows")
    return rows


def _csv_table(data: bytes) -> list[list]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise ValidationFailed("The CSV is neither UTF-8 nor GB18030.", code="unreadable_file")
    return [row for row in csv.reader(io.StringIO(text))]


def _xlsx_table(data: bytes) -> list[list]:
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a bad file
        raise ValidationFailed("The XLSX file cannot be read.", {"file": [str(error)[:200]]},
                               code="unreadable_file")
    sheet = workbook.worksheets[0]
    table = [list(row) for row in sheet.iter_rows(values_only=True)]
    workbook.close()
    return table
