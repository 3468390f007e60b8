"""A device's scans linked into a hash chain, and the breaks in it.

A device that links its scans puts in each event ``prev``: the content hash
(``sync.protocol.content_hash``: SHA-256 of the canonical JSON, lowercase
hex) of the event it created just before, the one with the previous
``seq`` (docs/sync-protocol.md, "Linked scans"). The server keeps every
event as sent, so from what reached it (accepted, quarantined and
conflicting versions alike) it can tell, per device:

- ``removed``: scan n names the hash of scan n-1, which never arrived,
  although scan n, made after it, did;
- ``altered``: scan n-1 arrived, but with content whose hash is not the
  one scan n names: it was changed on the way or on the device;
- ``fork``: two different versions of one scan number arrived;
- ``malformed_link``: ``prev`` is there but is not 64 lowercase hex digits;
- ``unlinked``: a scan without ``prev`` after the device began linking (an
  attacker who strips every link from some scan on would otherwise erase
  the evidence along with it).

A device that never links (an older app) shows none of them. What no chain
can show: the last scans of a device removed before any later scan arrives
(nothing names them yet), and a device's first scans removed before it
began linking (its ``seq`` gaps still show; docs/sync-protocol.md).

Pure and incremental: ``chain_breaks(links, since=s)`` judges the scans
numbered ``s`` and up from links of ``s - 1`` and up, so a stored verdict
for the scans below ``s`` plus this one equals judging everything at once;
``rejudge`` brings a stored verdict up to date with versions that arrived
late, numbered within a window, from that window alone
(tests/test_event_chain.py).
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

try:  # Optional, for speed, as in sync.protocol.
    import orjson
except ImportError:  # pragma: no cover - the same values without it
    orjson = None

REMOVED = "removed"
ALTERED = "altered"
FORK = "fork"
MALFORMED_LINK = "malformed_link"
UNLINKED = "unlinked"
BREAK_KINDS = (REMOVED, ALTERED, FORK, MALFORMED_LINK, UNLINKED)

HASH_RE = re.compile(r"^[0-9a-f]{64}\Z")


class Link(NamedTuple):
    """One stored version of a scan: its number, its content hash, and the
    ``prev`` it carried as sent (None when it had none)."""

    seq: int
    hash: str
    prev: object = None


@dataclass(frozen=True, order=True)
class Break:
    #: The scan concerned: the removed or altered one, or the one whose
    #: link or versions are wrong.
    seq: int
    kind: str
    #: The scan whose link showed it (for removed and altered: seq + 1;
    #: otherwise seq itself). A stored verdict is kept for breaks found
    #: below the point a new verification starts from.
    found_at: int
    #: The hash the next scan names (removed, altered).
    expected: str | None = None
    #: The hashes stored for the scan (altered: those that arrived; fork: the versions).
    stored: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        data = {"seq": self.seq, "kind": self.kind}
        if self.found_at != self.seq:
            data["named_by"] = self.found_at
        if self.expected is not None:
            data["expected_hash"] = self.expected
        if self.stored:
            data["stored_hashes"] = list(self.stored)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Break:
        return cls(seq=data["seq"], kind=data["kind"], found_at=data.get("named_by", data["seq"]),
                   expected=data.get("expected_hash"),
                   stored=tuple(data.get("stored_hashes", ())))


@dataclass
class Verdict:
    breaks: list[Break] = field(default_factory=list)
    #: The lowest scan number that carried a link, if any did.
    linked_from: int | None = None


def chain_breaks(links: Iterable[Link], since: int | None = None,
                 linked_from: int | None = None) -> Verdict:
    """The breaks in one device's chain, sorted.

    :param links: every stored version of the device's scans numbered
        ``since - 1`` and up (all of them when ``since`` is None), in any
        order, duplicates allowed.
    :param since: judge only the scans numbered this and up; the links of
        ``since - 1`` only serve to check the link of ``since``.
    :param linked_from: the lowest linked scan below ``since``, from the
        verdict on them, if any was linked.
    """
    versions: dict[int, dict[str, object]] = {}
    for seq, hash_, prev in links:
        here = versions.get(seq)
        if here is None:
            versions[seq] = {hash_: prev}
        elif hash_ not in here:
            here[hash_] = prev
    breaks: set[Break] = set()
    for seq in sorted(versions):
        if since is not None and seq < since:
            continue
        here = versions[seq]
        if len(here) > 1:
            breaks.add(Break(seq, FORK, seq, stored=tuple(sorted(here))))
        before = versions.get(seq - 1)
        linked = False
        for prev in here.values():
            if prev is None:
                if linked_from is not None and linked_from < seq:
                    breaks.add(Break(seq, UNLINKED, seq))
                continue
            linked = True
            # The usual case first: it names a stored hash (which is well formed).
            if not (type(prev) is str and before is not None and prev in before):
                breaks.update(_link_breaks(seq, prev, before))
        if linked and linked_from is None:
            linked_from = seq
    return Verdict(sorted(breaks), linked_from)


def rejudge(linked_from: int | None, links: Iterable[Link], first: int,
            upto: int) -> list[Break] | None:
    """The breaks found at ``first`` to ``upto`` after versions numbered
    ``first`` to ``upto - 1`` (or ``upto``, when it is the last number
    judged) were added to those a verdict was given on: they replace the
    verdict's breaks found there, and the rest stand.

    :param linked_from: the verdict's first linked scan.
    :param links: every stored version numbered ``first - 1`` to ``upto``.
    :return: None when the added versions hold a link below the first one
        known: then whether later scans lack a link changed too, and
        everything from ``first`` on must be judged again.
    """
    below = linked_from if linked_from is not None and linked_from < first else None
    window = chain_breaks([link for link in links if link.seq <= upto], since=first,
                          linked_from=below)
    if window.linked_from is not None and (linked_from is None
                                           or window.linked_from < linked_from):
        return None
    return window.breaks


def _link_breaks(seq: int, prev: object, before: dict | None) -> list[Break]:
    if not isinstance(prev, str) or not HASH_RE.match(prev):
        return [Break(seq, MALFORMED_LINK, seq)]
    if seq == 0:
        return []  # nothing can come before the first number: not a link to check
    if before is None:
        return [Break(seq - 1, REMOVED, seq, expected=prev)]
    if prev not in before:
        return [Break(seq - 1, ALTERED, seq, expected=prev, stored=tuple(sorted(before)))]
    return []


def link_events(events: list[dict], before: dict | None = None) -> list[dict]:
    """Link ``events`` (numbered one after the other) as a device that links
    its scans does: each names the content hash of the one before it, the
    first ``before``'s if given. Changes them in place; returns them."""
    from sync.protocol import content_hash
    for previous, event in zip([before, *events], events):
        if previous is not None:
            event["prev"] = content_hash(previous)
    return events


def prev_of(raw_text: str) -> object:
    """The ``prev`` of an event stored as canonical JSON text, as sent: None
    when it has none (or the text is not an object); the text itself when it
    names a prev but cannot be read (a malformed link, then)."""
    # In canonical JSON a key is written "name": and a quote inside a string
    # is escaped, so without this text no level of the event has a prev.
    if '"prev":' not in raw_text:
        return None
    try:
        value = orjson.loads(raw_text) if orjson is not None else json.loads(raw_text)
    except ValueError:  # orjson.JSONDecodeError: NaN, say, which json.loads reads
        try:
            value = json.loads(raw_text)
        except ValueError:  # not JSON at all: no link anyone could check
            return raw_text
    return value.get("prev") if isinstance(value, dict) else None
