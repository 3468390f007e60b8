"""Station-signing keys (Ed25519)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db_types import UTCDateTime, utcnow
from server.extensions import db


class SigningKey(db.Model):
    __tablename__ = "signing_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Public identifier put in every QR code as ``k``.
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    #: Raw 32-byte Ed25519 public key.
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    #: Private key encrypted with a key derived from SECRET_KEY (Fernet);
    #: it never leaves the server, and a database dump alone cannot sign.
    private_key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    #: The key that signs new codes; exactly one is active.
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Once retired, codes signed with it fail verification.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
