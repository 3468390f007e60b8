"""Print-ready PDF posters: one per A4 page, or 2 (A5) / 4 (A6) per A4 sheet.

The QR code is drawn as vector rectangles from the module matrix (one run per
row of dark modules), so a poster costs little more than encoding its code.
"""
from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from server.common.pdf_fonts import cjk_font
from server.qr.images import qr_matrix

LAYOUTS = {"a4": 1, "a5": 2, "a6": 4}
INSTRUCTIONS = [
    "志愿者、党员扫码签到 / 签退",
    "1. 用手机相机或微信扫描二维码",
    "2. 首次使用请输入个人编号和验证码",
    "3. 服务开始时签到，结束时再扫一次签退",
    "无网络时也可扫码，联网后自动上传",
]


@dataclass(frozen=True)
class PosterStation:
    code: str
    name: str
    kind_label: str
    address: str
    url: str
    version: int


def render_posters(stations: Iterable[PosterStation], layout: str = "a4") -> bytes:
    """One PDF with a poster per station, ``LAYOUTS[layout]`` posters per A4 sheet."""
    per_page = LAYOUTS[layout]
    font = cjk_font()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle("站点签到二维码")
    width, height = A4
    cells = _cells(per_page, width, height)
    index = 0
    for station in stations:
        if index and index % per_page == 0:
            canvas.showPage()
        x, y, w, h = cells[index % per_page]
        _draw_poster(canvas, font, station, x, y, w, h)
        index += 1
    if index == 0:
        canvas.setFont(font, 14)
        canvas.drawString(20 * mm, height - 30 * mm, "没有符合条件的站点")
    canvas.save()
    return buffer.getvalue()


def _cells(per_page: int, width: float, height: float):
    if per_page == 1:
        return [(0, 0, width, height)]
    if per_page == 2:
        return [(0, height / 2, width, height / 2), (0, 0, width, height / 2)]
    half_w, half_h = width / 2, height / 2
    return [(0, half_h, half_w, half_h), (half_w, half_h, half_w, half_h),
            (0, 0, half_w, half_h), (half_w, 0, half_w, half_h)]


def _draw_poster(canvas: Canvas, font: str, s: PosterStation, x, y, w, h) -> None:
    scale = min(w / A4[0], h / A4[1]) if h < A4[1] else 1.0
    scale = max(scale, 0.5)
    margin = 12 * mm * scale
    top = y + h - margin
    centre = x + w / 2
    canvas.setFont(font, 26 * scale)
    canvas.drawCentredString(centre, top - 26 * scale, _fit(s.name, 22))
    canvas.setFont(font, 15 * scale)
    canvas.drawCentredString(centre, top - 50 * scale, s.kind_label)
    side = min(w - 2 * margin, h * 0.55)
    qr_top = top - 62 * scale
    _draw_matrix(canvas, qr_matrix(s.url), centre - side / 2, qr_top - side, side)
    text_y = qr_top - side - 20 * scale
    canvas.setFont(font, 11 * scale)
    canvas.drawCentredString(centre, text_y, _fit(s.address or "", 40))
    canvas.setFont(font, 12 * scale)
    for number, line in enumerate(INSTRUCTIONS):
        canvas.drawCentredString(centre, text_y - (22 + 17 * number) * scale, line)
    canvas.setFont(font, 8 * scale)
    canvas.drawCentredString(centre, y + margin / 2, f"{s.code} · 第 {s.version} 版")
    canvas.setDash(3, 3)
    canvas.setLineWidth(0.3)
    canvas.rect(x + 3, y + 3, w - 6, h - 6)
    canvas.setDash()


def _draw_matrix(canvas: Canvas, matrix: list[list[bool]], left: float, bottom: float,
                 side: float) -> None:
    """Fill one rectangle per run of dark modules, in module units.

    The rectangles are written as literal PDF operators with integer
    coordinates under a scaling transform: reportlab's float formatting of
    hundreds of path points per code would otherwise cost as much as encoding.
    """
    count = len(matrix)
    module = side / (count + 8)  # 4 modules of quiet zone each side
    operators = []
    for row_number, row in enumerate(matrix):
        row_y = count - row_number - 1
        column = 0
        while column < count:
            if row[column]:
                run = column
                while run < count and row[run]:
                    run += 1
                operators.append(f"{column} {row_y} {run - column} 1 re")
                column = run
            else:
                column += 1
    canvas.saveState()
    canvas.translate(left + 4 * module, bottom + 4 * module)
    canvas.scale(module, module)
    canvas.setFillColorRGB(0, 0, 0)
    canvas.addLiteral("\n".join(operators) + "\nf")
    canvas.restoreState()


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"
