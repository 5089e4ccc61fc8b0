"""The audit service's NATS side: access records in from `audit.record.>`, signed tree heads out on
`audit.sth` for witnesses."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Mapping

import nats
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig

from basira.common.access_record import canonical_json
from basira.common.audit_sink import AUDIT_SUBJECT_PREFIX
from basira.common.errors import InvalidInput
from basira.common.metrics import EVENTS_TOTAL
from basira.common.nats import fetch_ready, publish
from basira.common.record_signing import record_signature_problem

from .sth import SignedTreeHead
from .store import AuditStore

log = logging.getLogger(__name__)

STREAM = "AUDIT"
DURABLE = "audit-log"
STH_SUBJECT = "audit.sth"
ACK_WAIT_S = 10.0
"""How soon records fetched by an audit process that died are redelivered to its successor. A batch
slower than this to commit is redelivered too, which is harmless: the store drops known record ids."""


def publisher_mismatch(subject: str, data: bytes,
                       record_keys: Mapping[str, Ed25519PublicKey] | None = None) -> str | None:
    """Why a record on `audit.record.<publisher>` does not belong to that publisher, or None: it names
    another service, or (with `record_keys`) its service's signature is missing or does not verify.

    Malformed JSON is left to the store (it refuses it with its own reason)."""
    publisher = subject.removeprefix(AUDIT_SUBJECT_PREFIX)
    try:
        record = json.loads(data)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    claimed = record.get("service")
    if claimed != publisher:
        return (f"record {str(record.get('id'))[:64]!r} claims service {str(claimed)[:64]!r} but "
                f"{publisher!r} published it")
    if record_keys is not None:
        problem = record_signature_problem(record, record_keys)
        if problem is not None:
            return f"record {str(record.get('id'))[:64]!r}: {problem}"
    return None


class LogAppender:
    """Moves durable access records from JetStream into the Merkle log, in batches.

    A batch is acked only after its transaction commits, so a crash redelivers it, and the store
    drops records it already holds (by record id): nothing is lost and nothing is logged twice.
    """

    def __init__(self, js: JetStreamContext, store: AuditStore, *, batch: int = 1000,
                 sign_interval_s: float = 1.0, record_keys: Mapping[str, Ed25519PublicKey] | None = None
                 ) -> None:
        """With `record_keys` (service → public key), a record its own service did not sign is refused."""
        self.js, self.store, self.batch, self.sign_interval_s = js, store, batch, sign_interval_s
        self.record_keys = record_keys
        self._unsigned = False
        self._last_signed = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        config = ConsumerConfig(durable_name=DURABLE, ack_policy=AckPolicy.EXPLICIT, ack_wait=ACK_WAIT_S,
                                filter_subject=AUDIT_SUBJECT_PREFIX + ">", max_ack_pending=20_000)
        await self.js.add_consumer(STREAM, config)  # create, or update an older ack_wait
        sub = await self.js.pull_subscribe(AUDIT_SUBJECT_PREFIX + ">", durable=DURABLE, stream=STREAM,
                                           config=config)
        try:
            while not stop.is_set():
                try:
                    messages = await fetch_ready(sub, self.batch, min(1.0, self.sign_interval_s))
                except NatsTimeoutError:
                    messages = []
                except (nats.errors.ConnectionClosedError, nats.errors.ConnectionDrainingError):
                    return
                if messages:
                    await self.append(messages)
                await self.sign_if_due()
        finally:
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()
            with contextlib.suppress(Exception):
                await self.sign_if_due(force=True)

    async def append(self, messages: list[Msg]) -> None:
        """Append one fetched batch; a malformed record is terminated alone, the rest still land.

        A record whose `service` is not the identity that published it (the subject's last token,
        which NATS permissions reserve to that service) is terminated too: nobody vouches for it.
        """
        vouched: list[Msg] = []
        for msg in messages:
            problem = publisher_mismatch(msg.subject, msg.data, self.record_keys)
            if problem is None:
                vouched.append(msg)
                continue
            log.error("access record refused: %s", problem, extra={"subject": msg.subject})
            EVENTS_TOTAL.labels(STREAM, "term").inc()
            await msg.term()
        messages = vouched
        if not messages:
            return
        try:
            await self.store.append_batch([m.data for m in messages], sign=False)
        except InvalidInput:
            good: list[Msg] = []
            for msg in messages:
                try:
                    await self.store.append_batch([msg.data], sign=False)
                    good.append(msg)
                except InvalidInput as exc:
                    log.error("malformed access record terminated", extra={"reason": exc.message})
                    EVENTS_TOTAL.labels(STREAM, "term").inc()
                    await msg.term()
            messages = good
        for msg in messages:
            await msg.ack()
        EVENTS_TOTAL.labels(STREAM, "ack").inc(len(messages))
        self._unsigned = self._unsigned or bool(messages)

    async def sign_if_due(self, *, force: bool = False) -> SignedTreeHead | None:
        """Sign a tree head when records arrived and `sign_interval_s` has passed; publish it."""
        now = time.monotonic()
        if not self._unsigned or (not force and now - self._last_signed < self.sign_interval_s):
            return None
        sth = await self.store.sign_tree_head()
        self._unsigned, self._last_signed = False, now
        payload = canonical_json({"type": "sth", **sth.to_dict()})
        try:
            await publish(self.js, STH_SUBJECT, payload, f"sth-{sth.tree_size}-{sth.timestamp}")
        except Exception:  # witnesses can fetch it from GetTreeHead; the log itself is durable
            log.warning("could not publish the signed tree head", extra={"tree_size": sth.tree_size})
        return sth
