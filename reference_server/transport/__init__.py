"""The trio shell around the sans-IO Engine.IO core: one listening socket serving Engine.IO over
WebSocket and HTTP long-polling, plus any other HTTP path handed to an HTTP handler.

One module per concern:

- ``http``: one HTTP/1.1 connection on h11 (requests, bodies, responses, the 101, closing);
- ``server``: the listener and the dispatch of each request (the decisions themselves are the
  sans-IO ``engineio_http.route``);
- ``polling``: a long-polling GET and POST;
- ``websocket``: one WebSocket on wsproto (frames in, pre-built frames out, close codes);
- ``sessions``: each Engine.IO session's task, wake-ups and public face (``EngineConnection``);
- ``signal``: the one wake-up primitive they share.

What runs on top of a session (Socket.IO, or the raw echo of the protocol test mode) is an
``EngineApp``. A socket that falls behind (its queue over the limit, or one write blocked longer
than ``write_timeout``) is closed as a slow consumer; nobody else waits for it. Cancelling
``Transport.serve`` closes every session (close frames, CLOSE for a pending poll) within about
a second.
"""

from ..engineio_http import REASON_SHUTDOWN
from .http import CLOSE_TIMEOUT
from .server import HttpCallback, Transport
from .sessions import AppFactory, EngineApp, EngineConnection
from .signal import Signal

__all__ = [
    "CLOSE_TIMEOUT",
    "REASON_SHUTDOWN",
    "AppFactory",
    "EngineApp",
    "EngineConnection",
    "HttpCallback",
    "Signal",
    "Transport",
]
