"""Path segments that name an object, beside fixed routes of the same path.

``/devices/enrol`` is the enrolment (its address is printed in enrolment
codes) and ``/devices/<code>`` a device: with a plain ``<code>`` a device
coded ``enrol`` answered at both, and the OpenAPI description, where a fixed
path comes before a templated one, said otherwise. ``<except(enrol):code>``
matches any segment but those words, so every route has one reading; the
words are refused where such objects are created.
"""
from __future__ import annotations

from werkzeug.routing import BaseConverter, ValidationError


class ExceptConverter(BaseConverter):
    """Any path segment except the given words."""

    def __init__(self, url_map, *words: str):
        super().__init__(url_map)
        self.words = frozenset(words)

    def to_python(self, value: str) -> str:
        if value in self.words:
            raise ValidationError()  # the router tries the next rule
        return value


def except_schema(converter: ExceptConverter) -> dict:
    """The path parameter in the OpenAPI description. The words are said in
    words: OpenAPI matches a fixed path before a templated one already, and
    a ``not`` here had fuzzers send them expecting this operation's answer."""
    words = ", ".join(sorted(converter.words))
    return {"type": "string", "description": f"Any but {words} (fixed paths beside it)"}


def truthful_allow(response):
    """``Allow`` (of a 405, or of an OPTIONS answer) names only the methods
    a request to this path reaches. werkzeug counts a rule's methods when
    the request's method differs, before its converters say whether the
    path is the rule's: ``OPTIONS /devices/enrol`` listed the device
    routes' GET and PATCH."""
    from flask import current_app, request
    from werkzeug.exceptions import HTTPException
    if "Allow" not in response.headers or (response.status_code != 405
                                           and request.method != "OPTIONS"):
        return response
    adapter = current_app.create_url_adapter(request)
    reachable = []
    for method in response.allow:
        try:
            adapter.match(method=method)
        except HTTPException:
            continue
        reachable.append(method)
    response.headers["Allow"] = ", ".join(reachable)
    return response
