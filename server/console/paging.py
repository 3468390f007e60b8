"""Console list pages that stay fast however long the list.

A page is fetched with one row more than it shows (so "Next" needs no
count), and the total is counted only up to a cap: "1000+" tells a
secretary as much as 2,000,000 does, and counting a city's rows on every
page view would cost more than the page itself.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from server.common.listing import MAX_OFFSET
from server.extensions import db

COUNT_CAP = 1000


@dataclass
class Window:
    items: list
    page: int
    has_next: bool
    #: Counted up to COUNT_CAP; ``total_capped`` says there are more.
    total: int
    total_capped: bool

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def window(query, page: int, per_page: int) -> Window:
    """Page ``page`` (from 1) of the ordered SELECT ``query``."""
    page = max(1, page)
    offset = (page - 1) * per_page
    # An offset no database takes (page=10**20 in the address) is past the end.
    rows = ([] if offset > MAX_OFFSET
            else db.session.scalars(query.limit(per_page + 1).offset(offset)).all())
    total = db.session.scalar(select(func.count()).select_from(
        query.order_by(None).limit(COUNT_CAP + 1).subquery()))
    return Window(items=rows[:per_page], page=page, has_next=len(rows) > per_page,
                  total=min(total, COUNT_CAP), total_capped=total > COUNT_CAP)
