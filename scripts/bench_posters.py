#!/usr/bin/env python3
"""Benchmark: 1,000 station posters as one PDF, beside bare QR encoding of the same codes.

    .venv/bin/python scripts/bench_posters.py [--stations 1000] [--layout a4] [--runs 3]

Both figures come from the same run on the same URLs (signed with a fresh
Ed25519 key, as the server signs them). "Bare encoding" is qrcode's
``make(fit=True)`` of each URL, the floor any poster must pay.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from server.qr.images import qr_matrix  # noqa: E402
from server.qr.posters import PosterStation, render_posters  # noqa: E402
from sync.qr import sign_station, station_url  # noqa: E402


def make_stations(count: int) -> list[PosterStation]:
    key = Ed25519PrivateKey.generate()
    stations = []
    for number in range(count):
        code = f"BA-NF-{number:04d}"
        url = station_url("https://dangqun.sz.example.cn", code, 1, "k1a2b3c4d",
                          sign_station(key, code, 1))
        stations.append(PosterStation(code=code, name=f"宝安区第{number + 1}暖蜂驿站",
                                      kind_label="暖蜂驿站", address="深圳市宝安区新安街道",
                                      url=url, version=1))
    return stations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--layout", default="a4", choices=["a4", "a5", "a6"])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    stations = make_stations(args.stations)
    render_posters(stations[:1], args.layout)  # load and register the font once

    bare, posters, size = [], [], 0
    for _ in range(args.runs):
        started = time.perf_counter()
        for station in stations:
            qr_matrix(station.url)
        bare.append(time.perf_counter() - started)
        started = time.perf_counter()
        pdf = render_posters(stations, args.layout)
        posters.append(time.perf_counter() - started)
        size = len(pdf)
    bare_s, poster_s = statistics.median(bare), statistics.median(posters)
    n = args.stations
    print(f"stations: {n}, layout: {args.layout}, runs: {args.runs} (medians)")
    print(f"bare QR encoding : {bare_s:7.2f} s  {bare_s / n * 1000:6.2f} ms/code")
    print(f"posters PDF      : {poster_s:7.2f} s  {poster_s / n * 1000:6.2f} ms/poster "
          f"({size / 1e6:.1f} MB)")
    print(f"ratio            : {poster_s / bare_s:7.2f} x bare encoding (goal <= 2.0)")


if __name__ == "__main__":
    main()
