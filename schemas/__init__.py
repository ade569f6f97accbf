"""The protocol's single source of truth: JSON Schemas and the machine-readable index.

Everything that needs an event name, an error code, a requirement id or a payload shape reads it
from the files beside this module, through :mod:`taskchat.schemas.protocol` and :mod:`taskchat.schemas.validation`.
"""

from taskchat.schemas.protocol import (
    ACK_ERROR_SCHEMA,
    AUTH_ERROR_CODES,
    EVENT_ERROR_CODES,
    HTTP_ONLY_ERROR_CODES,
    INDEX,
    PROTOCOL_VERSION,
    REQUIREMENTS,
    SCHEMA_DIR,
    Area,
    Direction,
    ErrorCode,
    Event,
    EventSpec,
    Level,
    Recipients,
    Requirement,
    areas,
    event_spec,
    events,
    requirement,
)
from taskchat.schemas.validation import Violation, validate, validator_for

__all__ = [
    "ACK_ERROR_SCHEMA",
    "AUTH_ERROR_CODES",
    "EVENT_ERROR_CODES",
    "HTTP_ONLY_ERROR_CODES",
    "INDEX",
    "PROTOCOL_VERSION",
    "REQUIREMENTS",
    "SCHEMA_DIR",
    "Area",
    "Direction",
    "ErrorCode",
    "Event",
    "EventSpec",
    "Level",
    "Recipients",
    "Requirement",
    "Violation",
    "areas",
    "event_spec",
    "events",
    "requirement",
    "validate",
    "validator_for",
]
