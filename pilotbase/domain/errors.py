"""Domain errors. The web and API layers map each class to one status and code."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A request the domain refuses; ``message`` is already in the user's language."""

    status = 400
    code = "bad_request"

    def __init__(self, message: Any, fields: dict[str, list[Any]] | None = None, **extra: Any):
        super().__init__(str(message))
        self.message = message
        self.fields = fields or {}
        self.extra = extra


class ValidationFailed(DomainError):
    status = 422
    code = "validation_error"


class RuleViolation(DomainError):
    status = 422
    code = "rule_violation"


class NotPermitted(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class InvalidTransition(DomainError):
    status = 409
    code = "invalid_transition"



class TooLarge(DomainError):
    status = 413
    code = "too_large"
