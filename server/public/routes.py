"""Pages anyone may open: what a phone sees after scanning a station's code."""
from __future__ import annotations

from pathlib import Path

from flask import (Blueprint, current_app, redirect, render_template, request,
                   send_from_directory, url_for)

from server.common.lookup import CODE_PATTERN
from server.public.services import UNKNOWN, CodeCheck, check_scanned_code

blp = Blueprint("public", __name__)


@blp.get("/")
def root():
    """Whoever opens the server's address gets the console (or its sign-in),
    not a 404: phones arrive through their station's code, not here."""
    return redirect(url_for("console.home"))


@blp.get("/q/<station_code>")
def scanned_station(station_code: str):
    """The landing page of a station QR code (the check-in page builds on it)."""
    if not CODE_PATTERN.match(station_code):
        check = CodeCheck(UNKNOWN, None)
    else:
        check = check_scanned_code(station_code, request.args)
    status = 404 if check.status == UNKNOWN else 200
    return render_template("public/station.html", check=check, code=station_code[:64]), status


@blp.get("/app/checkin")
def checkin_shell():
    """The page without a station: what the service worker shows offline."""
    return render_template("public/station.html", check=None, code="")


@blp.get("/display")
def station_display():
    """A station's screen showing its changing check-in code. The page holds
    nothing secret: the display's code and key live in the screen's browser
    (set up from the console), so the service worker caches the page and it
    opens without a network."""
    return render_template("public/display.html")


@blp.get("/sw.js")
def service_worker():
    """Served from the root so that it controls /q/ pages too."""
    response = send_from_directory(Path(current_app.static_folder), "sw.js", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@blp.get("/manifest.webmanifest")
def web_manifest():
    """What a phone needs to add the check-in page to its home screen as an
    app: names, icons, start page (``/app/checkin``), scope ``/`` so that a
    station's ``/q/`` page opens in it too."""
    return send_from_directory(Path(current_app.static_folder), "manifest.webmanifest",
                               mimetype="application/manifest+json", max_age=3600)


@blp.get("/favicon.ico")
def favicon():
    """Where browsers look for a site's icon, whatever the page says."""
    return send_from_directory(Path(current_app.static_folder), "favicon.ico",
                               mimetype="image/x-icon", max_age=86400)
