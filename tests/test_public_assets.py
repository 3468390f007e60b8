"""The files a browser asks the server for by itself: the site's icon and the
check-in page's web manifest with its icons."""
from __future__ import annotations

import io

from PIL import Image


def test_favicon_is_served_where_browsers_look_for_it(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype == "image/x-icon"
    icon = Image.open(io.BytesIO(response.data))
    assert icon.format == "ICO" and {(16, 16), (32, 32)} <= icon.info["sizes"]


def test_check_in_page_links_a_manifest_whose_icons_are_the_sizes_it_says(client, world):
    page = client.get("/app/checkin").text
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response.mimetype == "application/manifest+json"
    manifest = response.json
    assert manifest["display"] == "standalone" and manifest["scope"] == "/"
    assert manifest["theme_color"] == "#8b0000"
    sizes = set()
    for entry in manifest["icons"]:
        icon = client.get(entry["src"])
        assert icon.status_code == 200 and icon.mimetype == entry["type"], entry
        image = Image.open(io.BytesIO(icon.data))
        declared = {tuple(map(int, size.split("x"))) for size in entry["sizes"].split()}
        assert declared <= (image.info.get("sizes") or {image.size}), entry
        sizes |= declared
    assert {(192, 192), (512, 512)} <= sizes
