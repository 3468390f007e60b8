"""Writing the audit trail."""
from __future__ import annotations

from server.audit.models import AuditEntry
from server.extensions import db


def record_audit(actor: str, action: str, object_type: str, object_code: str, *,
                 changes: dict | None = None, reason: str | None = None) -> None:
    """Add one audit entry in the caller's transaction."""
    db.session.add(AuditEntry(actor=actor, action=action, object_type=object_type,
                              object_code=object_code, changes=changes or None,
                              reason=reason))
