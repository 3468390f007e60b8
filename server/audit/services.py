"""Writing the audit trail."""
from __future__ import annotations

import json

from server.audit.chain import add_pending
from server.db_types import utcnow
from server.extensions import db


def record_audit(actor: str, action: str, object_type: str, object_code: str, *,
                 changes: dict | None = None, reason: str | None = None) -> None:
    """Add one audit entry in the caller's transaction: it is written, next
    in the chain, when the transaction commits (server/audit/chain.py), and
    not at all when it rolls back.

    :raise TypeError: ``changes`` holds something JSON cannot say.
    """
    # As JSON gives it back: the hash is computed before the row is stored,
    # over what every later read of the row will see.
    changes = json.loads(json.dumps(changes)) if changes else None
    add_pending(db.session(), {"at": utcnow(), "actor": actor, "action": action,
                               "object_type": object_type, "object_code": object_code,
                               "reason": reason, "changes": changes})
