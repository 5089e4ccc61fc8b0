"""Where the gate appends access records: durably into JetStream, sequenced by the audit service."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nats.js import JetStreamContext

from basira.common.access_record import AccessRecord
from basira.common.nats import publish
from basira.common.record_signing import sign_record

AUDIT_SUBJECT_PREFIX = "audit.record."


class JetStreamAuditSink:
    """Publishes each record to `audit.record.<service>` and waits for JetStream's ack.

    The ack means the record is on disk in the AUDIT stream; the audit service then appends it to
    the Merkle log. The record id is the message id, so a retried append is never logged twice.
    With a `signing_key`, each record carries this service's Ed25519 signature (who vouches for it).
    """

    def __init__(self, js: JetStreamContext, service: str, *, timeout_s: float = 2.0,
                 signing_key: Ed25519PrivateKey | None = None) -> None:
        self.js, self.subject, self.timeout_s = js, AUDIT_SUBJECT_PREFIX + service, timeout_s
        self.service, self.signing_key = service, signing_key

    def payload(self, record: AccessRecord) -> bytes:
        """The bytes published: the canonical record, signed when this sink has a key."""
        if self.signing_key is None:
            return record.to_json()
        return sign_record(record.fields_dict(), self.service, self.signing_key)

    async def append(self, record: AccessRecord) -> None:
        """Raises basira.common.errors.Unavailable if JetStream does not acknowledge in time."""
        await publish(self.js, self.subject, self.payload(record), record.id, timeout_s=self.timeout_s)
