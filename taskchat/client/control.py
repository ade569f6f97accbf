"""How a test run makes the backend act: create tasks, change members, post notifications.

``task_notification``, ``task_updated`` and ``member_changed`` start from the backend, not from a
socket, so a test needs a way to trigger them. The default is CONTRACT §9's HTTP admin API;
a server with another backend plugs in its own class (``adapter = "pkg.module:Class"``, built as
``Class(target)``); a server with none says ``adapter = "none"`` and those checks are skipped.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import quote

import requests

if TYPE_CHECKING:
    from taskchat.client.config import Target


class ControlError(RuntimeError):
    """The backend refused or failed a control action; the message holds its answer."""


class ControlUnavailable(ControlError):
    """The target has no control adapter (``adapter = "none"``)."""


@runtime_checkable
class ControlAdapter(Protocol):
    """What the suite asks of a backend. Each call returns when the server has acted."""

    def create_task(self, title: str, task_id: str | None = None) -> str:
        """Create a task and return its id."""
        ...

    def set_member(
        self, task_id: str, user_id: str, role: str, user_name: str | None = None
    ) -> None:
        """Add the user to the task, or change their role (emits ``member_changed``)."""
        ...

    def remove_member(self, task_id: str, user_id: str) -> None: ...

    def update_task(self, task_id: str, changes: dict[str, Any]) -> None: ...

    def post_notification(
        self, task_id: str, type: str, message: str, data: dict[str, Any] | None = None
    ) -> None: ...


def _path(*parts: str) -> str:
    return "/".join(quote(p, safe="") for p in parts)


class AdminApiAdapter:
    """CONTRACT §9 over HTTP, with a bearer token whose claims hold ``admin: true``."""

    def __init__(self, url: str, admin_token: str, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {admin_token}"

    def _request(self, method: str, path: str, expect: int, body: Any = None) -> Any:
        try:
            resp = self.session.request(
                method, f"{self.url}{path}", json=body, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise ControlError(f"{method} {path}: {exc}") from exc
        if resp.status_code != expect:
            raise ControlError(
                f"{method} {path} answered {resp.status_code} (expected {expect}): "
                f"{resp.text[:300]}"
            )
        return resp.json() if resp.content else None

    def create_task(self, title: str, task_id: str | None = None) -> str:
        body: dict[str, Any] = {"title": title}
        if task_id is not None:
            body["taskId"] = task_id
        answer = self._request("POST", "/api/tasks", 201, body)
        if not isinstance(answer, dict) or not isinstance(answer.get("taskId"), str):
            raise ControlError(f"POST /api/tasks answered without a taskId: {answer!r}")
        return str(answer["taskId"])

    def set_member(
        self, task_id: str, user_id: str, role: str, user_name: str | None = None
    ) -> None:
        body: dict[str, Any] = {"role": role}
        if user_name is not None:
            body["userName"] = user_name
        self._request("PUT", f"/api/tasks/{_path(task_id)}/members/{_path(user_id)}", 200, body)

    def remove_member(self, task_id: str, user_id: str) -> None:
        self._request("DELETE", f"/api/tasks/{_path(task_id)}/members/{_path(user_id)}", 204)

    def update_task(self, task_id: str, changes: dict[str, Any]) -> None:
        self._request("PATCH", f"/api/tasks/{_path(task_id)}", 200, changes)

    def post_notification(
        self, task_id: str, type: str, message: str, data: dict[str, Any] | None = None
    ) -> None:
        body: dict[str, Any] = {"type": type, "message": message}
        if data is not None:
            body["data"] = data
        self._request("POST", f"/api/tasks/{_path(task_id)}/notifications", 202, body)


class NoControl:
    """The server offers no backend control: every call says so."""

    def _unavailable(self, *_args: Any, **_kwargs: Any) -> Any:
        raise ControlUnavailable("the target has no control adapter (adapter = 'none')")

    create_task = set_member = remove_member = update_task = post_notification = _unavailable


def load_adapter(spec: str, target: Target) -> ControlAdapter | NoControl:
    """``admin-api``, ``none``, or ``pkg.module:Class`` (constructed as ``Class(target)``)."""
    if spec == "none":
        return NoControl()
    if spec == "admin-api":
        return AdminApiAdapter(target.url, target.token("admin_api"), target.timeouts.ack)
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise ControlError(f"adapter must be 'admin-api', 'none' or 'pkg.module:Class': {spec!r}")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ControlError(f"cannot load adapter {spec!r}: {exc}") from exc
    adapter = cls(target)
    if not isinstance(adapter, ControlAdapter):
        raise ControlError(f"adapter {spec!r} lacks a method of the ControlAdapter interface")
    return adapter


def history(
    url: str,
    token: str | None,
    task_id: str,
    limit: int | str | None = None,
    before: str | None = None,
    timeout: float = 5.0,
) -> requests.Response:
    """``GET /api/tasks/{taskId}/messages``; the raw response, since callers check the status."""
    params: dict[str, Any] = {}
    if limit is not None:
        params["limit"] = limit
    if before is not None:
        params["before"] = before
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return requests.get(
        f"{url.rstrip('/')}/api/tasks/{_path(task_id)}/messages",
        params=params,
        headers=headers,
        timeout=timeout,
    )
