"""Typed domain errors; one interceptor maps them to gRPC status codes (never per service)."""

from __future__ import annotations

import grpc


class BasiraError(Exception):
    """Base of every error a service raises on purpose; carries the gRPC status it maps to."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(BasiraError):
    """The caller sent something malformed: say which field and why."""

    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class NotFound(BasiraError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(BasiraError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(BasiraError):
    """The request is well-formed but the system is not in a state to serve it."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class TooLarge(BasiraError):
    """A payload (image, frame, batch) is over a configured limit."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class RateLimited(BasiraError):
    """A caller went over a rate limit (failed authentications, expensive searches); retry later."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Unauthenticated(BasiraError):
    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(BasiraError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unavailable(BasiraError):
    """A dependency (policy, audit log, NATS, database) is down: fail closed."""

    code = grpc.StatusCode.UNAVAILABLE


class Unimplemented(BasiraError):
    """A kind of call the platform does not admit (e.g. a bidirectional stream past the gate)."""

    code = grpc.StatusCode.UNIMPLEMENTED


class InternalError(BasiraError):
    """A bug or an unexpected failure inside a service: the caller learns nothing of its internals."""

    code = grpc.StatusCode.INTERNAL


class ConfigError(Exception):
    """Bad configuration found at start-up; the message names the setting and the problem."""
