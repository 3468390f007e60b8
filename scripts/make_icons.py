#!/usr/bin/env python3
"""Draw the check-in page's icons into server/static/icons/ and the favicon.

    .venv/bin/python scripts/make_icons.py

A white check mark inside the four corners of a scan frame, on the page's
dark red, filling the square: it is also the "maskable" icon, so its drawing
keeps inside the central 80 % that a phone's mask leaves. The files are kept
in the repository; run this again only to change the drawing.
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

STATIC = Path(__file__).resolve().parent.parent / "server" / "static"
RED, WHITE = (139, 0, 0), (255, 255, 255)
#: Drawn this many times larger, then scaled down: smooth edges.
OVERSAMPLE = 4


def draw(size: int) -> Image.Image:
    big = size * OVERSAMPLE
    image = Image.new("RGB", (big, big), RED)
    pen = ImageDraw.Draw(image)
    unit = big / 100
    width = round(7 * unit)
    # The scan frame's corners, within the maskable safe zone (10..90).
    low, high, arm = 22 * unit, 78 * unit, 16 * unit
    for x, y, dx, dy in ((low, low, 1, 1), (high, low, -1, 1), (low, high, 1, -1),
                         (high, high, -1, -1)):
        pen.line([(x + dx * arm, y), (x, y), (x, y + dy * arm)], fill=WHITE, width=width,
                 joint="curve")
    pen.line([(34 * unit, 51 * unit), (45 * unit, 62 * unit), (66 * unit, 39 * unit)],
             fill=WHITE, width=width, joint="curve")
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    (STATIC / "icons").mkdir(exist_ok=True)
    for size in (192, 512):
        draw(size).save(STATIC / "icons" / f"icon-{size}.png", optimize=True)
    draw(256).save(STATIC / "favicon.ico", sizes=[(16, 16), (32, 32), (48, 48)])


if __name__ == "__main__":
    main()
