"""Runs of received ``seq`` numbers, and the gaps between them."""
from __future__ import annotations

from collections.abc import Iterable


def merge_runs(runs: Iterable[tuple[int, int]], seqs: Iterable[int]) -> list[tuple[int, int]]:
    """Merge single numbers into sorted, disjoint, non-adjacent ``(low, high)`` runs."""
    points = [(s, s) for s in seqs]
    merged: list[tuple[int, int]] = []
    for low, high in sorted([*runs, *points]):
        if merged and low <= merged[-1][1] + 1:
            if high > merged[-1][1]:
                merged[-1] = (merged[-1][0], high)
        else:
            merged.append((low, high))
    return merged


def missing_ranges(runs: list[tuple[int, int]], first_seq: int = 1) -> list[list[int]]:
    """Inclusive ``[low, high]`` ranges never received, from ``first_seq`` to the last run.

    A device's counter starts at 1 (0 is accepted too); numbers before the
    first received run count as missing, because the first scans can be lost too.
    """
    gaps = []
    expected = first_seq
    for low, high in runs:
        if low > expected:
            gaps.append([expected, low - 1])
        expected = max(expected, high + 1)
    return gaps


def missing_since_first(runs: list[tuple[int, int]]) -> list[list[int]]:
    """``missing_ranges`` from the device's first number: 0 if it sent 0, else 1."""
    return missing_ranges(runs, 0 if runs and runs[0][0] == 0 else 1)
