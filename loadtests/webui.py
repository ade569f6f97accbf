"""The web UI's Delivery tab, its CSV downloads and chart, and the secret kept out of every page.

Built on Locust's own extension points (see Locust's ``examples/extend_web_ui.py``): an extended
tab and table declared in the template arguments, the rows added to ``/stats/requests`` as
``extended_stats``, extra CSV files in the Download Data tab, and routes of our own. On a master
every figure is the aggregate of the workers (``runtime.totals``, Locust's merged statistics).
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Callable
from importlib.resources import files
from typing import Any, cast

from flask import Response, make_response, request
from locust.env import Environment
from taskchat.loadtests import charts
from taskchat.loadtests.delivery import Counters
from taskchat.loadtests.live import History, counter_rows, to_csv

TAB = "delivery"
SCRIPT_TAG = b'<script src="./taskchat/delivery.js"></script>'


def install(
    environment: Environment,
    totals: Callable[[], Counters],
    history: History,
    secrets: Callable[[], list[str]],
) -> None:
    web_ui = environment.web_ui
    if web_ui is None:
        return
    app = web_ui.app
    web_ui.template_args["extended_tabs"] = [{"title": "Delivery", "key": TAB}]
    web_ui.template_args["extended_tables"] = [
        {
            "key": TAB,
            "structure": [
                {"key": "name", "title": "Figure"},
                {"key": "value", "title": "Value"},
                {"key": "meaning", "title": "What it counts"},
            ],
        }
    ]
    web_ui.template_args["extended_csv_files"] = [
        {"href": "./taskchat/delivery.csv", "title": "Download delivery counters CSV"},
        {"href": "./taskchat/delivery_history.csv", "title": "Download delivery history CSV"},
    ]

    def rows() -> list[dict[str, Any]]:
        last = history.samples[-1] if history.samples else None
        return counter_rows(totals(), last)

    @app.after_request
    def _extend_and_scrub(response: Response) -> Response:
        if response.direct_passthrough or response.is_streamed:
            return response  # static files: nothing of ours, nothing secret
        if request.path.rstrip("/").endswith("/stats/requests") and response.is_json:
            data = response.get_json()
            if isinstance(data, dict):
                data["extended_stats"] = [{"key": TAB, "data": rows()}]
                response = cast(Response, app.json.response(data))
        elif response.mimetype == "text/html" and request.path.rstrip("/") in ("", "/"):
            body = response.get_data()
            response.set_data(body.replace(b"</body>", SCRIPT_TAG + b"</body>", 1))
        return _scrub(response, secrets())

    @app.route("/taskchat")
    def _counters() -> Any:
        return totals().to_dict()

    @app.route("/taskchat/history")
    def _history() -> Any:
        return {"samples": history.rows()}

    @app.route("/taskchat/delivery.csv")
    def _counters_csv() -> Response:
        return _download(to_csv(rows(), ["name", "value", "meaning"]), "taskchat_delivery.csv")

    @app.route("/taskchat/delivery_history.csv")
    def _history_csv() -> Response:
        return _download(history.csv(), "taskchat_delivery_history.csv")

    @app.route("/taskchat/delivery.png")
    def _chart() -> Response:
        response = make_response(latency_chart_png(history))
        response.headers["Content-Type"] = "image/png"
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.route("/taskchat/delivery.js")
    def _script() -> Response:
        text = (files("taskchat.loadtests") / "delivery_tab.js").read_text()
        response = make_response(text)
        response.headers["Content-Type"] = "text/javascript"
        return response


def latency_chart_png(history: History) -> bytes:
    samples = history.samples
    lines = {
        label: [(s.elapsed_s, v) for s in samples if (v := getattr(s, field)) is not None]
        for label, field in (
            ("delivery p50", "delivery_p50_ms"),
            ("delivery p95", "delivery_p95_ms"),
            ("delivery p99", "delivery_p99_ms"),
            ("fan-out p50", "fanout_p50_ms"),
            ("fan-out p99", "fanout_p99_ms"),
        )
    }
    return charts.png(
        "Delivery and fan-out latency (percentiles of the last 10 s)", lines, "latency (ms)"
    )


def _download(text: str, name: str) -> Response:
    response = make_response(text)
    response.headers["Content-Type"] = "text/csv"
    response.headers["Content-Disposition"] = f"attachment;filename={name}"
    return response


def _scrub(response: Response, secrets: list[str]) -> Response:
    """No page or download carries a secret: an empty value where one would have been (so a
    form field shows nothing and, sent back empty, means "the secret the run started with")."""
    secrets = [s for s in secrets if len(s) >= 4]
    if not secrets or response.direct_passthrough:
        return response
    body = response.get_data()
    scrubbed = body
    for secret in secrets:
        # as written, as JSON writes it, as HTML writes it
        for form in {secret, json.dumps(secret)[1:-1], html.escape(secret)}:
            scrubbed = scrubbed.replace(form.encode(), b"")
    if scrubbed != body:
        response.set_data(scrubbed)
    return response


def process_secrets(environment: Environment) -> list[str]:
    """The secrets this process knows: the command line's, the environment's."""
    opts = environment.parsed_options
    found = [getattr(opts, "jwt_secret", "") or "", os.environ.get("TASKCHAT_JWT_SECRET", "")]
    return [s for s in found if s]
