"""The device simulator, short configuration, finds no difference with its ledger."""
from __future__ import annotations

import pytest

from sync.simulation import Config, simulate

pytestmark = pytest.mark.slow


def test_simulated_devices_match_their_ledger(live, admin_token, tmp_path):
    server = live(workers=2, threads=2)
    result = simulate(server.url, admin_token,
                      Config(devices=4, people_per_device=5, days=3, seed=11,
                             skewed_devices=0.75, resend=0.3),
                      folder=str(tmp_path))
    assert result["differences"] == []
    assert result["sessions"] > 20 and result["skewed_devices"] >= 1
