"""Station-signing keys: create, rotate, retire; private keys sealed with SECRET_KEY."""
from __future__ import annotations

import base64
import secrets

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import select

from server.audit.services import record_audit
from server.db_types import utcnow
from server.errors import AppError
from server.extensions import db
from server.qr.models import SigningKey


def _sealer() -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"station-signing-key-seal").derive(current_app.config["SECRET_KEY"].encode())
    return Fernet(base64.urlsafe_b64encode(key))


def create_signing_key(actor: str = "system") -> SigningKey:
    """A new active key; the previous active key keeps verifying until retired."""
    private = Ed25519PrivateKey.generate()
    raw_private = private.private_bytes(serialization.Encoding.Raw,
                                        serialization.PrivateFormat.Raw,
                                        serialization.NoEncryption())
    for old in db.session.scalars(select(SigningKey).where(SigningKey.active.is_(True))):
        old.active = False
    key = SigningKey(
        key_id="k" + secrets.token_hex(4),
        public_key=private.public_key().public_bytes(serialization.Encoding.Raw,
                                                     serialization.PublicFormat.Raw),
        private_key_encrypted=_sealer().encrypt(raw_private), active=True)
    db.session.add(key)
    db.session.flush()
    record_audit(actor, "create_signing_key", "signing_key", key.key_id)
    return key


def active_signing_key() -> SigningKey:
    """The key that signs new codes, created on first use."""
    key = db.session.scalar(select(SigningKey).where(SigningKey.active.is_(True)))
    return key or create_signing_key()


def private_key_of(key: SigningKey) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_sealer().decrypt(key.private_key_encrypted))


def retire_signing_key(key_id: str, actor: str) -> SigningKey:
    """Stop accepting codes signed with ``key_id``; reissue affected posters first.

    :raise AppError: ``active_key`` when asked to retire the key in use.
    """
    key = db.session.scalar(select(SigningKey).where(SigningKey.key_id == key_id))
    if key is None:
        raise AppError("not_found", f"No signing key {key_id!r}.", status=404)
    if key.active:
        raise AppError("active_key", "Rotate to a new key before retiring this one.",
                       status=409)
    key.retired_at = key.retired_at or utcnow()
    record_audit(actor, "retire_signing_key", "signing_key", key.key_id)
    return key


def verifying_keys() -> dict[str, bytes]:
    """Key id to raw public key, for every key not retired."""
    return {k.key_id: k.public_key for k in db.session.scalars(
        select(SigningKey).where(SigningKey.retired_at.is_(None)))}
