"""Where the gate appends access records: durably into JetStream, sequenced by the audit service."""

from __future__ import annotations

from nats.js import JetStreamContext

from basira.common.access_record import AccessRecord
from basira.common.nats import publish

AUDIT_SUBJECT_PREFIX = "audit.record."


class JetStreamAuditSink:
    """Publishes each record to `audit.record.<service>` and waits for JetStream's ack.

    The ack means the record is on disk in the AUDIT stream; the audit service then appends it to
    the Merkle log. The record id is the message id, so a retried append is never logged twice.
    """

    def __init__(self, js: JetStreamContext, service: str, *, timeout_s: float = 2.0) -> None:
        self.js, self.subject, self.timeout_s = js, AUDIT_SUBJECT_PREFIX + service, timeout_s

    async def append(self, record: AccessRecord) -> None:
        """Raises basira.common.errors.Unavailable if JetStream does not acknowledge in time."""
        await publish(self.js, self.subject, record.to_json(), record.id, timeout_s=self.timeout_s)
