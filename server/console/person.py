"""A person's page in the console: their standing (hours, star level), their
service record over a period with each session's status, and the draft
certificate (志愿服务记录证明) to print and seal. The same services as
``/api/v1/people/{code}/record``."""
from __future__ import annotations

from datetime import date

from flask import Response, render_template
from flask_login import login_required

from server.console.pages import _visible_or_404
from server.console.period import requested_period
from server.console.routes import blp
from server.people.models import Person
from server.people.star_levels import standings
from server.service_sessions.record import record_pdf, service_record
from sync.timeutil import local_today


def _period() -> tuple[date, date]:
    """By default this year so far."""
    today = local_today()
    return requested_period(today.replace(month=1, day=1), today)


@blp.get("/people/<code>")
@login_required
def person_page(code: str):
    person = _visible_or_404(Person, code)
    start, end = _period()
    return render_template("console/person.html", person=person,
                           record=service_record(person, start, end),
                           standing=standings([person.id])[person.id])


@blp.get("/people/<code>/record.pdf")
@login_required
def person_record_pdf(code: str):
    person = _visible_or_404(Person, code)
    start, end = _period()
    return Response(record_pdf(service_record(person, start, end)), mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="record-{code}.pdf"'})
