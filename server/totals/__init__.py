"""Service totals per branch and period, kept by database triggers on
``service_session`` (docs/pairing.md, section 6): the tables (models), what
counts and what is summed (rules), the triggers of each database and the
rebuild (triggers, triggers_pg, triggers_sqlite), and reading them (figures).
"""
