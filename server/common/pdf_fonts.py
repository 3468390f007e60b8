"""A font with Chinese glyphs for generated PDFs (posters, certificates)."""
from __future__ import annotations

import glob
import os

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont

#: Fonts embedded in the PDF when installed; the first found is used.
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)


def cjk_font() -> str:
    """Register and name the CJK font: ``POSTER_FONT``, an installed one, or, with
    none installed, the standard CID font STSong-Light that PDF viewers supply."""
    if "CJK" in pdfmetrics.getRegisteredFontNames():
        return "CJK"
    paths = [os.environ.get("POSTER_FONT", "")] + list(FONT_CANDIDATES) + glob.glob(
        "/usr/share/fonts/**/*CJK*.tt[cf]", recursive=True)
    for path in paths:
        if path and os.path.exists(path):
            pdfmetrics.registerFont(TTFont("CJK", path, subfontIndex=0))
            return "CJK"
    if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"
