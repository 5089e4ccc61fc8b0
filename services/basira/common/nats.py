"""NATS JetStream: every stream declared in one place, a publisher, and a pull-consumer base.

Consumers must decide for each message: ack (done), nak (retry later) or term (poison, never retry).
Publishers pass an event id as `Nats-Msg-Id` so JetStream drops redelivered duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import nats
from google.protobuf.message import DecodeError, Message
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import APIError, NotFoundError

from basira.common.errors import ConfigError, Unavailable
from basira.common.metrics import EVENTS_TOTAL
from basira.common.tls import TlsFiles, client_ssl_context

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 8 * 1024 * 1024
DAY = 24 * 3600.0


@dataclass(frozen=True)
class StreamSpec:
    """One JetStream stream: its subjects and limits (seconds, bytes)."""

    name: str
    subjects: tuple[str, ...]
    max_age_s: float
    max_bytes: int = -1
    retention: RetentionPolicy = RetentionPolicy.LIMITS
    discard: DiscardPolicy = DiscardPolicy.OLD
    storage: StorageType = StorageType.FILE
    duplicate_window_s: float = 120.0
    max_msgs_per_subject: int = -1
    discard_new_per_subject: bool = False
    """With DiscardPolicy.NEW and a per-subject maximum: refuse a subject's message past that maximum
    (so one full subject holds back its own publisher, not everyone's)."""
    writers: tuple[str, ...] = ()
    """The services that may publish on `subjects` (their NATS identities get that right, no other)."""
    readers: tuple[str, ...] = ()
    """The services that may consume the stream (and subscribe to its subjects)."""
    writer_subject: str = ""
    """When set (`audit.record.{service}`), each writer may publish only this subject, with its name."""
    sealed: bool = False
    """No message may be deleted and the stream never purged, whoever asks (JetStream's deny_delete and
    deny_purge; rollups stay off): only its max age retires records."""

    def config(self, replicas: int = 1) -> StreamConfig:
        return StreamConfig(num_replicas=replicas,
            name=self.name, subjects=list(self.subjects), retention=self.retention,
            max_age=self.max_age_s, max_bytes=self.max_bytes, discard=self.discard,
            storage=self.storage, duplicate_window=self.duplicate_window_s,
            max_msg_size=MAX_PAYLOAD_BYTES, max_msgs_per_subject=self.max_msgs_per_subject,
            discard_new_per_subject=self.discard_new_per_subject,
            deny_delete=self.sealed, deny_purge=self.sealed, allow_rollup_hdrs=False,
        )

    def publish_subjects(self, service: str) -> tuple[str, ...]:
        """What `service` may publish into this stream (nothing when it is not a writer)."""
        if service not in self.writers:
            return ()
        return (self.writer_subject.format(service=service),) if self.writer_subject else self.subjects


# Every service that writes an access record (the gate runs in each): each only on its own subject.
GATED_SERVICES = ("ingest", "analytics", "search", "alerting", "audit", "policy")

FRAMES_QUEUED_PER_CAMERA = 30
"""Frames one camera may have waiting for analytics. Past it JetStream refuses that camera's next frame
and ingest holds it: a file is read no faster than analytics drains it, a live stream's sampler skips
to the newest picture, a pushing device waits. Without this cap a lagging analytics let a camera's
queue outlive the stream's max age, and frames expired unseen (vehicles went uncounted)."""

# DESIGN §6. Frames are a short-lived work queue; when analytics falls behind, a camera's queue fills
# and its publishes are refused (discard new per subject), which is the backpressure ingest waits on.
# Writers and readers are the services' NATS permissions (basira.common.nats_identity): a service
# publishes only here.
STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec("FRAMES", ("frames.>",), max_age_s=60, max_bytes=512 * 1024 * 1024,
               retention=RetentionPolicy.WORK_QUEUE, discard=DiscardPolicy.NEW, duplicate_window_s=30,
               max_msgs_per_subject=FRAMES_QUEUED_PER_CAMERA, discard_new_per_subject=True,
               writers=("ingest",), readers=("analytics",)),
    StreamSpec("DETECTIONS", ("detections.>",), max_age_s=7 * DAY, max_bytes=4 * 1024**3,
               writers=("analytics",), readers=("analytics", "search", "alerting")),
    StreamSpec("COUNTS", ("counts.>",), max_age_s=7 * DAY,
               writers=("analytics",), readers=("search", "alerting")),
    # Each camera's open minute of counts (basira.analytics.count_checkpoints): the last one per camera.
    StreamSpec("COUNTING", ("counting.open.>",), max_age_s=DAY, max_msgs_per_subject=1,
               writers=("analytics",), readers=("analytics",)),
    StreamSpec("MATCHES", ("match.candidate.>",), max_age_s=7 * DAY,
               writers=("analytics",), readers=("alerting",)),
    # Search reads alerts only to keep confirmed face matches as evidence past the short face retention.
    StreamSpec("ALERTS", ("alerts.>",), max_age_s=30 * DAY, writers=("alerting",),
               readers=("alerting", "search")),
    StreamSpec("HEALTH", ("camera.health.>",), max_age_s=7 * DAY,
               writers=("ingest",), readers=("ingest", "alerting")),
    StreamSpec("AUDIT", ("audit.record.>",), max_age_s=30 * DAY, writers=GATED_SERVICES,
               readers=("audit",), writer_subject="audit.record.{service}", sealed=True),
    StreamSpec("AUDIT_STH", ("audit.sth",), max_age_s=365 * DAY, writers=("audit",), readers=("audit",)),
    StreamSpec("WATCHLIST", ("watchlist.changed",), max_age_s=30 * DAY,
               writers=("analytics",), readers=("analytics",)),
    # The camera wall's latest analysed frame per camera (published by analytics, read by search).
    StreamSpec("PREVIEWS", ("camera.preview.>",), max_age_s=3600, max_msgs_per_subject=1,
               duplicate_window_s=10, writers=("analytics",), readers=("search",)),
)


@dataclass(frozen=True)
class Credentials:
    """A NATS user and password, kept in a file only its owner can read."""

    user: str
    password: str

    @classmethod
    def load(cls, path: Path) -> Credentials:
        """Raises ConfigError naming the file when it is missing or not `{"user","password"}` JSON."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(str(data["user"]), str(data["password"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"cannot read NATS credentials from {path}: {exc}") from exc


CREDENTIALS_ENV = "BASIRA_NATS_CREDENTIALS"


def inbox_prefix(identity: str) -> str:
    """Where `identity`'s replies arrive; its permissions let only it subscribe there."""
    return f"_INBOX_{identity}"


class OwnInboxJetStream(JetStreamContext):
    """JetStream whose pull subscriptions take their replies on the identity's own inbox prefix
    (nats-py's default there is the shared `_INBOX.`, which no service identity may read)."""

    def __init__(self, conn: NatsClient, inbox_prefix: str, **kwargs: Any) -> None:
        super().__init__(conn, **kwargs)
        self.own_inbox = f"{inbox_prefix}.".encode()

    async def pull_subscribe(self, *args: Any, **kwargs: Any) -> JetStreamContext.PullSubscription:
        kwargs.setdefault("inbox_prefix", self.own_inbox)
        return await super().pull_subscribe(*args, **kwargs)


async def connect(url: str, name: str, *, timeout_s: float = 5.0, credentials: Path | None = None,
                  tls: TlsFiles | None = None) -> tuple[NatsClient, JetStreamContext]:
    """Connect to NATS and return (client, JetStream); raises Unavailable naming the URL if it can't.

    `credentials` (default: the file named by BASIRA_NATS_CREDENTIALS, if any) is the identity to
    connect as; its replies then arrive on its own inbox prefix (`_INBOX_<user>`), the only one its
    permissions let it read. A wrong password raises Unavailable too, saying so. `tls` (default:
    BASIRA_TLS_CA/_CERT/_KEY, if set) connects over TLS verified against the platform's CA.
    """

    async def _quiet(_: Exception) -> None:
        return None

    path = credentials or (Path(os.environ[CREDENTIALS_ENV]) if os.environ.get(CREDENTIALS_ENV) else None)
    identity: dict[str, Any] = {}
    inbox = "_INBOX"
    if path is not None:
        creds = Credentials.load(path)
        inbox = inbox_prefix(creds.user)
        identity = {"user": creds.user, "password": creds.password, "inbox_prefix": inbox}
    files = tls or TlsFiles.from_env()
    if files is not None:
        identity["tls"] = client_ssl_context(files)
    try:
        # Once connected, reconnect forever; but nats-py also retries the *first* connect forever
        # with that setting, so bound the first connect here: a dead URL must fail start-up.
        client = await asyncio.wait_for(nats.connect(
            url, name=name, connect_timeout=timeout_s, max_reconnect_attempts=-1,
            allow_reconnect=True, error_cb=_quiet, **identity,
        ), timeout=3 * timeout_s)
    except (OSError, TimeoutError, NatsTimeoutError, nats.errors.NoServersError) as exc:
        raise Unavailable(f"cannot reach NATS at {url}: {exc or type(exc).__name__}") from exc
    except nats.errors.Error as exc:  # e.g. "Authorization Violation"
        raise Unavailable(f"NATS at {url} refused {name}: {exc}") from exc
    return client, OwnInboxJetStream(client, inbox, timeout=timeout_s)


def streams_used_by(service: str, specs: tuple[StreamSpec, ...] = STREAMS) -> tuple[StreamSpec, ...]:
    """The streams `service` writes or reads (its NATS identity may see only those)."""
    return tuple(s for s in specs if service in s.writers or service in s.readers)


async def require_streams(js: JetStreamContext, specs: tuple[StreamSpec, ...] = STREAMS) -> None:
    """Check each stream exists (declared by the operator); raises Unavailable naming a missing one.

    For a service whose NATS identity may not create or change streams (`ensure_streams` is the
    operator's), so a changed declaration is applied by the operator, never by a service.
    """
    for spec in specs:
        try:
            await js.stream_info(spec.name)
        except NotFoundError as exc:
            raise Unavailable(f"JetStream stream {spec.name} does not exist: the operator declares "
                              "the streams (basira up does)") from exc
        except (NatsTimeoutError, APIError, nats.errors.Error) as exc:
            raise Unavailable(f"cannot read JetStream stream {spec.name}: {exc}") from exc


async def ensure_streams(js: JetStreamContext, specs: tuple[StreamSpec, ...] = STREAMS,
                         *, replicas: int = 1) -> None:
    """Create each stream, or update it to the declared config; idempotent.

    `replicas` is JetStream's R (1 on one machine, 3 on a production cluster, DESIGN §7).
    """
    for spec in specs:
        try:
            await js.stream_info(spec.name)
        except NotFoundError:
            await js.add_stream(spec.config(replicas))
        else:
            await js.update_stream(spec.config(replicas))


async def publish(js: JetStreamContext, subject: str, payload: bytes, event_id: str,
                  *, timeout_s: float = 5.0) -> int:
    """Publish durably (waits for the stream's ack); returns the stream sequence.

    Raises Unavailable if JetStream does not acknowledge (down, or stream full: backpressure).
    """
    try:
        ack = await js.publish(subject, payload, timeout=timeout_s, headers={"Nats-Msg-Id": event_id})
    except (NatsTimeoutError, APIError, nats.errors.Error, OSError) as exc:
        raise Unavailable(f"JetStream did not accept {subject}: {exc or type(exc).__name__}") from exc
    return int(ack.seq)


class Outcome(enum.Enum):
    """What a consumer handler decided for one message."""

    ACK = "ack"
    NAK = "nak"
    TERM = "term"


Handler = Callable[[Msg], Awaitable[Outcome]]
MessageT = TypeVar("MessageT", bound=Message)


def decoded(msg: Msg, message_type: type[MessageT], what: str, logger: logging.Logger) -> MessageT | None:
    """The message's payload as `message_type`, or None when it does not decode, after a warning on the
    consumer's own `logger` ("undecodable <what> dropped"); the handler then TERMs it, since no
    redelivery will make it decode.
    """
    try:
        return message_type.FromString(msg.data)
    except DecodeError:
        logger.warning("undecodable %s dropped", what, extra={"subject": msg.subject})
        return None


FOLLOW_UP_FETCH_S = 0.05
"""How long the follow-up pull of `fetch_ready` may wait: the messages it asks for were pending a moment
ago, so they come at once; when another copy took them first, this is all it costs."""


def _pending_after(msg: Msg) -> int:
    """Messages the consumer still had pending when `msg` was delivered (0 when unknown)."""
    try:
        return max(0, int(msg.metadata.num_pending))
    except (AttributeError, ValueError, TypeError, nats.errors.Error):
        return 0


async def fetch_ready(sub: JetStreamContext.PullSubscription, batch: int, timeout_s: float) -> list[Msg]:
    """Up to `batch` messages, handed over as soon as the first has come; NatsTimeoutError when none
    came within `timeout_s`.

    Why not `sub.fetch(batch)`: when a stale status of an earlier pull (its expiry) reaches nats-py
    just as it asks again, a multi-message fetch takes it for the answer, pulls again and then waits
    out the whole `timeout_s` for the rest of the batch, holding the message it already has. Measured
    on the quiet pipeline: frames waited ~0.8 s before analytics saw them, a hop at a time, and
    frame→alert p95 was 1–2 s. So the wait is always for one message (a stale status there is only a
    retry), and the rest of a batch is only what JetStream says is already pending.
    """
    messages: list[Msg] = await sub.fetch(1, timeout=timeout_s)
    pending = _pending_after(messages[-1]) if batch > 1 else 0
    if pending:
        with contextlib.suppress(NatsTimeoutError):
            messages += await sub.fetch(min(batch - 1, pending), timeout=FOLLOW_UP_FETCH_S)
    return messages


class PullConsumer:
    """A durable pull consumer shared by every copy of a service (they split the work).

    `run()` loops until `stop` is set; each message's handler returns an Outcome, and an exception
    in the handler naks the message with a delay (retry later) rather than losing it. Redeliveries
    are unlimited by default (a poison message is the handler's to TERM): a dependency down for a
    while (PostgreSQL out of disk) held messages back; five deliveries then dropped them. The nak
    delay doubles with each delivery, from `nak_delay_s` up to `max_nak_delay_s`.
    """

    def __init__(self, js: JetStreamContext, stream: str, subject: str, durable: str, handler: Handler,
                 *, batch: int = 16, ack_wait_s: float = 30.0, max_deliver: int = -1,
                 nak_delay_s: float = 1.0, max_nak_delay_s: float = 30.0, deliver_new_only: bool = False,
                 keep_alive_s: float = 0.0) -> None:
        self.js, self.stream, self.subject, self.durable = js, stream, subject, durable
        self.handler, self.batch, self.nak_delay_s = handler, batch, nak_delay_s
        self.max_nak_delay_s = max_nak_delay_s
        if keep_alive_s and keep_alive_s >= ack_wait_s:
            raise ValueError(f"keep_alive_s ({keep_alive_s}) must be below ack_wait_s ({ack_wait_s})")
        self.keep_alive_s = keep_alive_s
        self.config = ConsumerConfig(
            durable_name=durable, ack_policy=AckPolicy.EXPLICIT, ack_wait=ack_wait_s,
            max_deliver=max_deliver, filter_subject=subject,
            deliver_policy=DeliverPolicy.NEW if deliver_new_only else DeliverPolicy.ALL,
        )

    async def run(self, stop: asyncio.Event) -> None:
        sub = await self._subscribe()
        try:
            while not stop.is_set():
                try:
                    messages = await fetch_ready(sub, self.batch, 1.0)
                except NatsTimeoutError:
                    continue
                except (nats.errors.ConnectionClosedError, nats.errors.ConnectionDrainingError):
                    return
                for msg in messages:
                    await self._handle(msg)
        finally:
            # An open pull subscription makes the connection's drain wait its full timeout.
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()

    async def _subscribe(self) -> JetStreamContext.PullSubscription:
        """Create the durable consumer, or bring an existing one to this config (pull_subscribe alone
        keeps an older one's ack wait and redelivery limit), then subscribe to it."""
        try:
            await self.js.add_consumer(self.stream, self.config)
        except APIError as exc:  # a field JetStream cannot change in place: keep the existing consumer
            log.warning("consumer config not updated: %s", exc, extra={"consumer": self.durable})
        return await self.js.pull_subscribe(self.subject, durable=self.durable, stream=self.stream,
                                            config=self.config)

    def _nak_delay(self, msg: Msg) -> float:
        """`nak_delay_s` doubled for each earlier delivery of `msg`, at most `max_nak_delay_s`."""
        try:
            delivered = max(1, int(msg.metadata.num_delivered))
        except (AttributeError, ValueError, TypeError, nats.errors.Error):
            delivered = 1
        return float(min(self.max_nak_delay_s, self.nak_delay_s * 2 ** min(delivered - 1, 16)))

    async def _handle(self, msg: Msg) -> None:
        keep_alive = asyncio.create_task(self._keep_alive(msg)) if self.keep_alive_s > 0 else None
        try:
            outcome = await self.handler(msg)
        except Exception:
            log.exception("handler failed; message will be redelivered",
                          extra={"subject": msg.subject, "consumer": self.durable})
            outcome = Outcome.NAK
        finally:
            if keep_alive is not None:
                keep_alive.cancel()
        EVENTS_TOTAL.labels(self.stream, outcome.value).inc()
        if outcome is Outcome.ACK:
            await msg.ack()
        elif outcome is Outcome.NAK:
            await msg.nak(delay=self._nak_delay(msg))
        else:
            await msg.term()


    async def _keep_alive(self, msg: Msg) -> None:
        """While a handler works, tell JetStream every `keep_alive_s` that the message is in progress:
        a short ack wait then redelivers a dead worker's messages soon, without redelivering slow ones."""
        while True:
            await asyncio.sleep(self.keep_alive_s)
            with contextlib.suppress(nats.errors.Error):
                await msg.in_progress()


class ConcurrentPullConsumer(PullConsumer):
    """A PullConsumer that handles up to `max_in_flight` messages concurrently (each still acked alone).

    It fetches only as many messages as it has room for, so none waits unacknowledged in a local queue
    while its ack deadline runs out. On stop, messages in flight get `drain_s` to finish, then the pull
    subscription is closed (an open one makes the connection's drain() wait its full timeout).
    """

    def __init__(self, js: JetStreamContext, stream: str, subject: str, durable: str, handler: Handler, *,
                 max_in_flight: int = 4, drain_s: float = 10.0, **kwargs: Any) -> None:
        super().__init__(js, stream, subject, durable, handler, batch=max_in_flight, **kwargs)
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be >= 1, got {max_in_flight}")
        self.max_in_flight, self.drain_s = max_in_flight, drain_s

    async def run(self, stop: asyncio.Event) -> None:
        sub = await self._subscribe()
        in_flight: set[asyncio.Task[None]] = set()
        try:
            while not stop.is_set():
                room = self.max_in_flight - len(in_flight)
                if room <= 0:
                    await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                    continue
                try:
                    messages = await fetch_ready(sub, room, 1.0)
                except NatsTimeoutError:
                    continue
                except (nats.errors.ConnectionClosedError, nats.errors.ConnectionDrainingError):
                    return
                for msg in messages:
                    task = asyncio.create_task(self._handle(msg))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
        finally:
            if in_flight:
                await asyncio.wait(in_flight, timeout=self.drain_s)
            # A pull subscription left open makes the connection's drain() wait its full timeout.
            with contextlib.suppress(Exception):
                await sub.unsubscribe()


async def follow(js: JetStreamContext, subject: str, stream: str, start_sequence: int, *,
                 heartbeat_s: float = 5.0) -> AsyncIterator[Msg]:
    """Every message of `subject` in `stream` from `start_sequence` on, in order, then live as they
    come, until the connection closes (an ordered consumer: nothing lost or doubled on its way)."""
    sub = await js.subscribe(
        subject, stream=stream, ordered_consumer=True, idle_heartbeat=heartbeat_s,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start_sequence))
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=None)
            except (nats.errors.ConnectionClosedError, nats.errors.ConnectionDrainingError):
                return
            yield msg
    finally:
        with contextlib.suppress(Exception):  # the connection may already be closing
            await sub.unsubscribe()
