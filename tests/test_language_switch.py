"""The console's language links go back to the page they were on, and only
to a page of this site (no open redirect through the Referer)."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("referer", [
    "https://evil.example/phish",
    "//evil.example/phish",
    "http://localhost.evil.example/console/",
    "http://localhost@evil.example/console/",
    "http://localhost//evil.example/path",
    "http://localhost/\\evil.example",
    "javascript:alert(1)",
    "/console/people",
    "",
])
def test_a_referer_of_another_site_leads_home(client, referer):
    response = client.get("/console/lang/en", headers={"Referer": referer})
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/"
    assert "lang=en" in response.headers["Set-Cookie"]


def test_a_page_of_this_site_is_where_the_link_goes_back_to(client):
    response = client.get("/console/lang/zh_CN",
                          headers={"Referer": "http://localhost/console/people?q=%E7%8E%8B&page=2"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/people?q=%E7%8E%8B&page=2"
