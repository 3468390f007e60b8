"""GET /api/v1/reports/service-hours, as JSON, CSV or XLSX."""
from __future__ import annotations

import gc
from contextlib import contextmanager

import marshmallow as ma
from flask.views import MethodView
from marshmallow import validate

from server.auth.boundary import current_principal
from server.auth.policy import may_read_members
from server.common.blueprint import Blueprint
from server.common.fast_json import json_response
from server.common.listing import visible_one
from server.common.schemas import (BINARY, MONTH_PATTERN, QUARTER_PATTERN, YEAR_PATTERN, Code,
                                   Timestamp, api_time)
from server.errors import Forbidden
from server.org.models import Organisation
from server.reports import exports
from server.reports.exports import XLSX_MIMETYPE
from server.reports.services import (GROUPS, dual_reporting, period_of, service_hours,
                                     sync_completeness)

blp = Blueprint("reports", __name__, url_prefix="/reports",
                description="Service hours per branch, person, station and area.")


class ReportArgs(ma.Schema):
    group_by = ma.fields.String(load_default="branch", validate=validate.OneOf(GROUPS))
    date_from = ma.fields.Date(load_default=None, data_key="from")
    date_to = ma.fields.Date(load_default=None, data_key="to")
    month = ma.fields.String(load_default=None, validate=validate.Regexp(MONTH_PATTERN),
                             metadata={"example": "2026-11"})
    quarter = ma.fields.String(load_default=None, validate=validate.Regexp(QUARTER_PATTERN),
                               metadata={"example": "2026-Q4"})
    year = ma.fields.String(load_default=None, validate=validate.Regexp(YEAR_PATTERN),
                            metadata={"example": "2026"})
    rollup = ma.fields.Boolean(load_default=False,
                               metadata={"description": "Add each node's subtree to it"})
    format = ma.fields.String(load_default="json", validate=validate.OneOf(["json", "csv",
                                                                            "xlsx"]))


class ReportRow(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    credited_seconds = ma.fields.Integer()
    proven_seconds = ma.fields.Integer(metadata={
        "description": "Of the credited seconds, those the scans alone credit (docs/trust.md)"})
    reviewed_seconds = ma.fields.Integer(metadata={
        "description": "Of the credited seconds, those a reviewer approved or amended"})
    entered_seconds = ma.fields.Integer(metadata={
        "description": "Of the credited seconds, those entered afterwards (补录) and approved; "
                       "proven + reviewed + entered = credited"})
    pending_seconds = ma.fields.Integer()
    sessions = ma.fields.Integer()
    people = ma.fields.Integer()


class DeviceSyncSchema(ma.Schema):
    station = ma.fields.String()
    device = ma.fields.String()
    last_push_at = Timestamp(allow_none=True)
    queue_length = ma.fields.Integer(allow_none=True)
    oldest_queued_at = Timestamp(allow_none=True)
    behind = ma.fields.Boolean()


class CompletenessSchema(ma.Schema):
    may_change = ma.fields.Boolean(metadata={"description": "Devices may still hold scans "
                                                            "of the period"})
    oldest_unsynced_scan_at = Timestamp(allow_none=True)
    least_recent_push_at = Timestamp(allow_none=True)
    unpaired_scans_since = Timestamp(
        allow_none=True, metadata={"description": "Scans before the period's end are stored "
                                                  "but not yet paired into sessions, since"})
    devices = ma.fields.List(ma.fields.Nested(DeviceSyncSchema))


class Report(ma.Schema):
    group_by = ma.fields.String()
    date_from = ma.fields.Date(data_key="from")
    date_to = ma.fields.Date(data_key="to")
    rollup = ma.fields.Boolean()
    rows = ma.fields.List(ma.fields.Nested(ReportRow))
    completeness = ma.fields.Nested(CompletenessSchema)


@blp.route("/service-hours")
class ServiceHours(MethodView):
    @blp.arguments(ReportArgs, location="query")
    @blp.response(200, Report)
    @blp.alt_response(200, success=True, content_type="text/csv", schema=BINARY,
                      description="format=csv")
    @blp.alt_response(200, success=True, content_type=XLSX_MIMETYPE, schema=BINARY,
                      description="format=xlsx")
    def get(self, args):
        """Service hours in a period, grouped (JSON, or format=csv|xlsx)"""
        start, end = period_of(args)
        with collector_paused():
            rows = service_hours(current_principal(), args["group_by"], start, end,
                                 args["rollup"])
            if args["format"] == "json":
                # Serialised by hand with orjson (the schema above still
                # documents it): a district's rollup has thousands of rows,
                # and marshmallow, then the json module, cost more than
                # computing them; an administrator's completeness lists
                # every device.
                completeness = completeness_document(
                    sync_completeness(current_principal(), start, end))
                answer = json_response({"group_by": args["group_by"],
                                        "from": start.isoformat(), "to": end.isoformat(),
                                        "rollup": args["rollup"], "rows": rows,
                                        "completeness": completeness})
                # Freed before the collector is back, so it finds nothing to scan.
                del rows, completeness
                return answer
        title = f"志愿服务时长统计（{start} 至 {end}，按{_GROUP_LABELS[args['group_by']]}）"
        return exports.export_response(rows, args["format"], title,
                                       f"service-hours-{args['group_by']}-{start}-{end}")


_GROUP_LABELS = {"branch": "组织", "person": "人员", "station": "站点", "area": "区域"}


@contextmanager
def collector_paused():
    """The cyclic garbage collector off while a report is built.

    A city's report allocates some 200,000 objects (rows, sums, names) that
    all live until the answer is written, and nothing of it forms cycles;
    the collector ran about 270 times during one, twice over everything
    (12–20 % of its time, docs/benchmarks.md). Reference counting still
    frees what the report drops, and the collector catches up when it is
    back on. Process-wide: a gunicorn worker serves one request at a time.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def completeness_document(completeness: dict) -> dict:
    """``CompletenessSchema``'s answer, built by hand: marshmallow took
    ~20 ms for the city's 3,000 devices (times as ``Timestamp`` writes them)."""
    return {
        "may_change": completeness["may_change"],
        "oldest_unsynced_scan_at": api_time(completeness["oldest_unsynced_scan_at"]),
        "least_recent_push_at": api_time(completeness["least_recent_push_at"]),
        "unpaired_scans_since": api_time(completeness["unpaired_scans_since"]),
        "devices": [{"station": d["station"], "device": d["device"],
                     "last_push_at": api_time(d["last_push_at"]),
                     "queue_length": d["queue_length"],
                     "oldest_queued_at": api_time(d["oldest_queued_at"]),
                     "behind": d["behind"]} for d in completeness["devices"]]}


class DualArgs(ma.Schema):
    branch = Code(required=True)
    quarter = ma.fields.String(required=True, validate=validate.Regexp(QUARTER_PATTERN),
                               metadata={"description": "e.g. 2026-Q4"})


class DualRow(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    home_area = ma.fields.String()
    home_area_name = ma.fields.String()
    credited_seconds = ma.fields.Integer()
    pending_seconds = ma.fields.Integer()
    sessions = ma.fields.Integer()


@blp.route("/dual-reporting")
class DualReporting(MethodView):
    @blp.arguments(DualArgs, location="query")
    @blp.response(200, DualRow(many=True))
    def get(self, args):
        """双报到: members' service in their residential community, for their branch, per quarter

        :raise 403: the caller sees the organisation (hosting a station they
            manage) but not its members.
        """
        branch = visible_one(Organisation, args["branch"], "organisation")
        if not may_read_members(current_principal(), branch):
            # Members by name and home area: for those who manage the branch.
            raise Forbidden("Only those who manage the organisation see its members' report.")
        start, end = period_of({"quarter": args["quarter"]})
        return dual_reporting(current_principal(), branch, start, end)
