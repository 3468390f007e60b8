"""Hash chains: records that show it when one of them is changed, removed or
inserted afterwards.

Each record of a chain (a *link*) has a position (1, 2, 3, ...), stores the
hash of the link before it, and its own hash::

    link_hash(previous_hash, fields)
      = lowercase hex SHA-256 of the UTF-8 of canonical_json([previous_hash, fields])

``previous_hash`` is None (JSON ``null``) for the first link; ``fields`` is
any JSON value, best an object naming each field, the position included;
times go in as ``canonical_time`` text. ``canonical_json`` is the one
canonical JSON of the project (sync.protocol): keys sorted, no whitespace,
non-ASCII characters as themselves. The form is pinned by
tests/test_chain.py: changing it would break every stored chain.

``ChainCheck`` walks a chain in position order, recomputes each hash and
says where the chain breaks, one ``Break`` per break, O(1) memory.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from sync.protocol import canonical_json

__all__ = ["Break", "ChainCheck", "Link", "canonical_bytes", "canonical_time", "link_hash"]


def canonical_bytes(value: Any) -> bytes:
    """The canonical JSON of ``value`` in UTF-8.

    A lone surrogate (which ``json.loads`` makes of ``"\\ud800"``) is encoded
    as itself ("surrogatepass"), so every JSON value has bytes.
    """
    return canonical_json(value).encode("utf-8", "surrogatepass")


def link_hash(previous_hash: str | None, fields: Any) -> str:
    """The hash of a link: its fields, chained to the link before it."""
    return hashlib.sha256(canonical_bytes([previous_hash, fields])).hexdigest()


def canonical_time(moment: datetime) -> str:
    """A time as fixed-width UTC text with microseconds:
    ``2026-12-04T02:00:02.000000Z``.

    :raise ValueError: a naive datetime (its instant is unknown).
    """
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to canonical_time")
    utc = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


@dataclass(frozen=True)
class Link:
    """One stored record of a chain, as read back."""

    position: int
    previous_hash: str | None
    entry_hash: str
    #: What ``entry_hash`` was computed from (``link_hash``'s ``fields``).
    fields: Any
    #: Names the record besides its position in messages (e.g. a row id).
    ref: Any = None


@dataclass(frozen=True)
class Break:
    """Where the chain breaks: positions ``first`` to ``last``.

    kind: ``changed`` (a link's fields no longer give its hash),
    ``removed`` (positions missing; the next link chains to a hash no link
    has), ``inserted`` (a link the chain goes around: the one after it
    chains to the one before it), ``replaced`` (neither a link's hash nor
    its link to the one before holds), ``relinked`` (a link chains to
    another hash than its predecessor's: the predecessor was rewritten with
    a new hash, or links between them were removed and the rest renumbered),
    ``position`` (a link out of place), ``anchor`` (the chain does not pass
    through an anchor).
    """

    kind: str
    first: int
    last: int
    detail: str
    ref: Any = None

    def describe(self, name: str = "seq") -> str:
        where = (f"{name} {self.first}" if self.first == self.last
                 else f"{name} {self.first}-{self.last}")
        if self.ref is not None and self.first == self.last:
            where += f" ({self.ref})"
        return f"{where}: {self.kind}: {self.detail}"


class ChainCheck:
    """Checks a chain link by link, in position order.

    ``add`` each link, then ``end``; both return the breaks found so far
    that are final (a break may still be extended by the next link, or be
    explained by it: the one after an inserted link chains around it). One
    break is reported per place the chain breaks; a run of consecutive
    ``changed`` links is one break. ``anchors`` maps positions to hashes
    kept outside the store: the chain must pass through each of them.
    """

    def __init__(self, *, first_position: int = 1, anchors: Mapping[int, str] | None = None,
                 name: str = "seq"):
        self.first_position = first_position
        self.name = name
        self.count = 0
        self._anchors = dict(anchors or {})
        self._previous: Link | None = None
        #: Whether the previous link's own hash held.
        self._previous_own = True
        #: The hash the previous link should chain to (None: the start).
        self._before_previous: str | None = None
        self._held: Break | None = None

    def add(self, link: Link) -> list[Break]:
        out: list[Break] = []
        self.count += 1
        name, previous = self.name, self._previous
        expected_hash = previous.entry_hash if previous else None
        expected_position = previous.position + 1 if previous else self.first_position
        own = link_hash(link.previous_hash, link.fields) == link.entry_hash
        follows = link.previous_hash == expected_hash
        before = expected_hash
        if (not follows and previous is not None
                and link.previous_hash == self._before_previous):
            # The chain goes around the previous link: it was inserted.
            self._retract(previous.position, out)
            self._hold(Break("inserted", previous.position, previous.position,
                             f"not part of the chain: {name} {link.position} chains to the "
                             "entry before it", previous.ref), out)
            follows, before = True, self._before_previous
            expected_position = link.position
        elif not follows:
            gap = link.position - expected_position
            if gap > 0:
                self._hold(Break("removed", expected_position, link.position - 1,
                                 f"missing: {name} {link.position} chains to a hash "
                                 "no entry has"), out)
            elif not self._previous_own:
                pass  # explained by the previous link's own break
            elif own:
                detail = (f"does not chain to {name} {previous.position}: that entry was "
                          "rewritten with a new hash, or entries between were removed and "
                          "the rest renumbered" if previous else
                          "chains to a hash no entry has: entries before it were removed "
                          "and the rest renumbered")
                self._hold(Break("relinked", link.position, link.position, detail,
                                 link.ref), out)
            else:
                self._hold(Break("replaced", link.position, link.position,
                                 "neither its hash nor its link to the entry before holds: "
                                 "inserted or replaced", link.ref), out)
        if follows and not own:
            self._hold(Break("changed", link.position, link.position,
                             "its fields (content or position) no longer give its hash",
                             link.ref), out)
        elif own and follows and link.position != expected_position:
            self._hold(Break("position", link.position, link.position,
                             f"out of place: {name} {expected_position} was expected here",
                             link.ref), out)
        anchored = self._anchors.pop(link.position, None)
        if anchored is not None and anchored != link.entry_hash:
            self._hold(Break("anchor", link.position, link.position,
                             f"its hash is {link.entry_hash}, the anchor says {anchored}: "
                             "the chain was rewritten up to here", link.ref), out)
        self._before_previous = before
        self._previous, self._previous_own = link, own
        return out

    def end(self) -> list[Break]:
        out: list[Break] = []
        if self._held is not None:
            out.append(self._held)
            self._held = None
        last = self._previous.position if self._previous else None
        for position in sorted(self._anchors):
            out.append(Break("anchor", position, position,
                             f"no such entry (the chain ends at {self.name} {last}): "
                             "entries were removed"))
        self._anchors.clear()
        return out

    def _hold(self, found: Break, out: list[Break]) -> None:
        held = self._held
        if (held is not None and held.kind == found.kind == "changed"
                and held.last + 1 == found.first):
            self._held = replace(held, last=found.last, ref=None)
            return
        if held is not None:
            out.append(held)
        self._held = found

    def _retract(self, position: int, out: list[Break]) -> None:
        """Take back what was held about ``position`` (an inserted link)."""
        held = self._held
        if held is None or held.last != position or held.kind in ("removed", "anchor"):
            return
        self._held = None
        if held.first < position:
            out.append(replace(held, last=position - 1))


def check_chain(links: Iterable[Link], **options) -> tuple[int, list[Break]]:
    """Check a whole chain: (number of links, breaks). For small chains and
    tests; stream large ones through ``ChainCheck``."""
    check = ChainCheck(**options)
    breaks = [found for link in links for found in check.add(link)]
    return check.count, breaks + check.end()
