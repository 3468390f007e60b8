"""Bulk import from CSV and XLSX: every row or none, errors with line numbers."""
from __future__ import annotations

import io
import re
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import func, select

from server.extensions import db
from server.people.models import Person
from tests.conftest import auth


def _upload(client, token, kind, filename, data):
    return client.post(f"/api/v1/imports/{kind}", headers=auth(token),
                       data={"file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def test_people_csv_with_chinese_headers_imports_all_rows(client, world, admin_token):
    csv_text = "编码,姓名,类型,手机,支部\nP-100,张伟,party_member,13900001111,BA-ZB1\n" \
               "P-101,李娜,volunteer,,BA-ZB2\n"
    response = _upload(client, admin_token, "people", "roster.csv", csv_text.encode("utf-8-sig"))
    assert response.status_code == 201, response.json
    assert response.json == {"kind": "people", "created": 2}
    person = db.session.scalar(select(Person).where(Person.code == "P-100"))
    assert person.phone_masked == "139****1111"
    assert person.current_branch.code == "BA-ZB1"


def test_gb18030_csv_from_old_excel_is_read(client, world, admin_token):
    csv_text = "编码,姓名,类型,支部\nP-200,陈静,volunteer,BA-ZB1\n"
    response = _upload(client, admin_token, "people", "roster.csv", csv_text.encode("gb18030"))
    assert response.status_code == 201, response.json


def test_one_bad_row_imports_nothing_and_names_every_bad_line(client, world, admin_token):
    before = db.session.scalar(select(func.count()).select_from(Person))
    csv_text = ("code,name,kind,branch\n"
                "P-300,好人,volunteer,BA-ZB1\n"
                "P-301,坏类型,alien,BA-ZB1\n"
                "P-302,无支部,volunteer,NOPE\n"
                "P-BA-1,重复,volunteer,BA-ZB1\n")
    response = _upload(client, admin_token, "people", "roster.csv", csv_text.encode())
    assert response.status_code == 422
    assert response.json["code"] == "import_failed"
    assert set(response.json["errors"]) == {"3", "4", "5"}
    assert "kind" in response.json["errors"]["3"][0]
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Person)) == before


def test_xlsx_organisations_then_stations_referring_to_them(client, world, admin_token):
    book = Workbook()
    sheet = book.active
    sheet.append(["编码", "名称", "类型", "上级"])
    sheet.append(["BA-ZB1-XZ9", "第九党小组", "group", "BA-ZB1"])
    sheet.append(["BA-ZB1-XZ9-A", "子小组", "group", "BA-ZB1-XZ9"])
    data = io.BytesIO()
    book.save(data)
    response = _upload(client, admin_token, "organisations", "orgs.xlsx", data.getvalue())
    assert response.status_code == 201, response.json
    assert response.json["created"] == 2


def test_unknown_column_and_unreadable_file_are_clear_errors(client, world, admin_token):
    response = _upload(client, admin_token, "people", "x.csv", b"code,name,colour\nP,x,red\n")
    assert response.status_code == 422
    assert response.json["code"] == "unknown_column"
    response = _upload(client, admin_token, "people", "x.xlsx", b"not a zip file")
    assert response.json["code"] == "unreadable_file"


def test_secretary_cannot_import_into_another_branch(client, world, make_user):
    token = make_user("branch_secretary", "BA-ZB1")
    response = _upload(client, token, "people", "x.csv",
                       b"code,name,kind,branch\nP-400,x,volunteer,NS-ZB1\n")
    assert response.status_code == 422
    assert "2" in response.json["errors"]


def test_people_kinds_written_in_chinese_are_imported(client, world, admin_token):
    csv_text = ("编码,姓名,人员类型,支部\nP-500,王芳,党员,BA-ZB1\nP-501,李强,志愿者,BA-ZB1\n"
                "P-502,张敏,党员志愿者,BA-ZB1\nP-503,刘洋,volunteer,BA-ZB1\n")
    response = _upload(client, admin_token, "people", "roster.csv", csv_text.encode("utf-8-sig"))
    assert response.status_code == 201, response.json
    kinds = dict(db.session.execute(select(Person.code, Person.kind).where(
        Person.code.in_(["P-500", "P-501", "P-502", "P-503"]))).all())
    assert kinds == {"P-500": "party_member", "P-501": "volunteer", "P-502": "both",
                     "P-503": "volunteer"}


def test_a_missing_or_unknown_kind_names_the_values_it_takes(client, world, admin_token):
    csv_text = "编码,姓名,类型,支部\nP-600,赵静,,BA-ZB1\nP-601,孙涛,群众,BA-ZB1\n"
    response = _upload(client, admin_token, "people", "roster.csv", csv_text.encode())
    assert response.status_code == 422
    for line in ("2", "3"):
        [message] = response.json["errors"][line]
        assert message.startswith("kind: ") and "党员" in message and "party_member" in message


def test_flask_import_people_takes_chinese_kinds_from_xlsx(app, world, tmp_path):
    book = Workbook()
    book.active.append(["编码", "姓名", "类型", "支部"])
    book.active.append(["P-700", "陈杰", "党员志愿者", "BA-ZB2"])
    book.save(tmp_path / "roster.xlsx")
    result = app.test_cli_runner().invoke(
        args=["import", "people", str(tmp_path / "roster.xlsx"), "--as-user", "root"])
    assert result.exit_code == 0, result.output
    assert result.output == "Imported 1 people.\n"
    assert db.session.scalar(select(Person.kind).where(Person.code == "P-700")) == "both"


def test_docs_name_every_import_column_and_value():
    from server.imports.reading import HEADER_ALIASES
    from server.imports.values import VALUE_ALIASES
    api_md = (Path(__file__).parent.parent / "docs" / "api.md").read_text()
    section = api_md[api_md.index("## Imports"):]
    section = section[:section.index("\n## ", 1)]
    named = set(re.findall(r"`([^`]+)`", section))
    assert set(HEADER_ALIASES) - named == set()
    assert {value for columns in VALUE_ALIASES.values() for values in columns.values()
            for value in values} - named == set()
