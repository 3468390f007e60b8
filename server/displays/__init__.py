"""Station displays: screens at a station that show a check-in code changing every 30 s."""
