"""Scoped lists and look-ups that every domain's routes share."""
from __future__ import annotations

from sqlalchemy import func, or_, select

from server.auth.boundary import current_principal
from server.auth.policy import visible
from server.errors import NotFound
from server.extensions import db


def scoped_query(model, args: dict, *, order_by=None, text_columns=("code", "name")):
    """``select(model)`` limited to the caller's scope and the ``q`` filter."""
    query = select(model).where(visible(current_principal(), model))
    if args.get("q"):
        like = f"%{args['q']}%"
        query = query.where(or_(*(getattr(model, c).like(like) for c in text_columns)))
    return query.order_by(order_by if order_by is not None else model.code)


#: OFFSET is a signed 64-bit integer on both databases (and for their
#: drivers); a page that starts beyond it starts beyond any list's end.
MAX_OFFSET = 2**63 - 1


def page_of(query, pagination_parameters):
    """One page of ``query``; sets the total for flask-smorest's X-Pagination header.

    A page past the end is empty, however far past: one whose offset no
    database takes is answered without asking for rows.
    """
    page, size = pagination_parameters.page, pagination_parameters.page_size
    if (page - 1) * size > MAX_OFFSET:
        pagination_parameters.item_count = db.session.scalar(
            select(func.count()).select_from(query.order_by(None).subquery()))
        return []
    found = db.paginate(query, page=page, per_page=size, error_out=False)
    pagination_parameters.item_count = found.total
    return found.items


def visible_one(model, code: str, what: str, principal=None):
    """The object with ``code`` if the caller (or ``principal``, outside a
    request) may read it.

    :raise NotFound: missing, or outside the caller's scope (the two look alike,
        so codes outside one's scope cannot be probed).
    """
    obj = db.session.scalar(select(model).where(
        model.code == code, visible(principal or current_principal(), model)))
    if obj is None:
        raise NotFound(what, code)
    return obj
