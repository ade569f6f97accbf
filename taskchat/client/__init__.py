"""The client side's own connection path, shared by the conformance suite and the Locust user.

It never imports ``reference_server``: a misreading of the protocol must not be able to hide by
agreeing with itself (see ``taskchat.client.wire``).
"""

from taskchat.client.connection import (
    AckTimeout,
    ClientError,
    ConnectFailed,
    Connection,
    ConnectionClosed,
    ConnectRefused,
    EventTimeout,
    Frame,
    Received,
)
from taskchat.client.wire import Packet, WireError

__all__ = [
    "AckTimeout",
    "ClientError",
    "ConnectFailed",
    "ConnectRefused",
    "Connection",
    "ConnectionClosed",
    "EventTimeout",
    "Frame",
    "Packet",
    "Received",
    "WireError",
]
