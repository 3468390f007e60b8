"""A person's service record (志愿服务记录) and its printable draft certificate.

The record shows who served (real name, volunteer number), for which
organisation, what service, where, start and end to the minute, the hours,
the status and who reviewed it. The PDF is a draft for the organisation to
seal: printed totals are not a certificate by themselves.
"""
from __future__ import annotations

import io
from datetime import date

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy import select

from server.common.pdf_fonts import cjk_font
from server.extensions import db
from server.people.models import Person
from server.service_sessions.models import Review, ServiceSession
from server.service_sessions.status import counts, credited_by
from sync.timeutil import BUSINESS_TZ

STATUS_LABELS = {"ok": "有效", "approved": "已审核通过", "amended": "已更正", "rejected": "未认定",
                 "needs_review": "待审核", "too_long": "超时待审核",
                 "missing_checkout": "未签退", "orphan_checkout": "无签到", "open": "进行中"}


def service_record(person: Person, start: date, end: date) -> dict:
    sessions = db.session.scalars(
        select(ServiceSession).where(ServiceSession.person_id == person.id,
                                     ServiceSession.local_date >= start,
                                     ServiceSession.local_date <= end)
        .order_by(ServiceSession.key_at)).all()
    reviews = {}
    for review in db.session.scalars(select(Review).where(
            Review.key_event_id.in_([s.key_event_id for s in sessions]))
            .order_by(Review.created_at, Review.id)):
        reviews[review.key_event_id] = review
    rows = []
    for s in sessions:
        review = reviews.get(s.key_event_id)
        rows.append({
            "id": s.key_event_id, "date": s.local_date, "station": s.station.code,
            "station_name": s.station.name,
            "activity": s.activity.title if s.activity else None,
            "organisation": s.branch.name if s.branch else None,
            "start_at": s.start_at, "end_at": s.end_at, "status": s.status,
            "credited_seconds": s.credited_seconds, "pending_seconds": s.pending_seconds,
            "credited_by": credited_by(s.credited_seconds, s.reviewed_seconds,
                                       s.entered_seconds),
            "evidence": s.evidence,
            "reviewed_by": review.user.display_name if review and not s.review_stale else None,
            "review_reason": review.reason if review and not s.review_stale else None})
    branch = person.current_branch
    return {"person": {"code": person.code, "name": person.name,
                       "volunteer_number": person.volunteer_number,
                       "branch": branch.name if branch else None},
            "from": start, "to": end, "sessions": rows,
            "credited_seconds": sum(r["credited_seconds"] for r in rows),
            "pending_seconds": sum(r["pending_seconds"] for r in rows),
            "credited_by": {kind: sum(r["credited_by"][kind] for r in rows)
                            for kind in ("proven", "reviewed", "entered")}}


def record_pdf(record: dict) -> bytes:
    """The draft certificate: header, one line per counted session, total, seal box."""
    font = cjk_font()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4)
    canvas.setTitle("志愿服务记录证明（草稿）")
    width, height = A4
    person = record["person"]

    def header(y):
        canvas.setFont(font, 18)
        canvas.drawCentredString(width / 2, y, "志愿服务记录证明（草稿）")
        canvas.setFont(font, 10.5)
        lines = [f"姓名：{person['name']}    志愿者编号：{person['volunteer_number'] or '—'}",
                 f"所在组织：{person['branch'] or '—'}",
                 f"统计期间：{record['from']} 至 {record['to']}"]
        for n, line in enumerate(lines):
            canvas.drawString(20 * mm, y - (12 + 6 * n) * mm, line)
        y -= 36 * mm
        canvas.setFont(font, 9.5)
        for x, title in zip((20, 42, 92, 140, 172), ("日期", "服务地点", "服务内容", "起止时间",
                                                     "时长/状态")):
            canvas.drawString(x * mm, y, title)
        canvas.line(20 * mm, y - 2 * mm, width - 20 * mm, y - 2 * mm)
        return y - 7 * mm

    y = header(height - 25 * mm)
    counted = [r for r in record["sessions"] if counts(r["status"])]
    for row in counted:
        if y < 40 * mm:
            canvas.showPage()
            y = header(height - 25 * mm)
        start = (row["start_at"].astimezone(BUSINESS_TZ).strftime("%H:%M")
                 if row["start_at"] else "—")
        end = row["end_at"].astimezone(BUSINESS_TZ).strftime("%H:%M") if row["end_at"] else "—"
        hours = row["credited_seconds"] / 3600
        canvas.drawString(20 * mm, y, str(row["date"]))
        canvas.drawString(42 * mm, y, row["station_name"][:14])
        canvas.drawString(92 * mm, y, (row["activity"] or "志愿服务")[:14])
        canvas.drawString(140 * mm, y, f"{start}–{end}")
        canvas.drawString(172 * mm, y, f"{hours:.1f}h {STATUS_LABELS.get(row['status'], '')}")
        y -= 6 * mm
    canvas.setFont(font, 11)
    canvas.drawString(20 * mm, y - 6 * mm,
                      f"认定服务时长合计：{record['credited_seconds'] / 3600:.1f} 小时"
                      f"（另有待审核 {record['pending_seconds'] / 3600:.1f} 小时）")
    canvas.setFont(font, 9)
    canvas.drawString(20 * mm, 25 * mm, "本证明为系统生成的草稿，经组织核实并加盖公章后方为有效。")
    canvas.rect(width - 70 * mm, 20 * mm, 50 * mm, 30 * mm)
    canvas.drawCentredString(width - 45 * mm, 45 * mm, "（组织盖章）")
    canvas.save()
    return buffer.getvalue()
