"""A level-triggered wake-up for one waiting task."""

from __future__ import annotations

import trio


class Signal:
    """Wakes the one task that waits on it; a ``set`` with nobody waiting is remembered.

    Cheaper than a ``trio.Event`` per cycle (no new object, no waiter set): every session has
    two, and they fire once per packet."""

    __slots__ = ("_flag", "_task")

    def __init__(self) -> None:
        self._task: trio.lowlevel.Task | None = None
        self._flag = False

    def set(self) -> None:
        task = self._task
        if task is not None:
            self._task = None
            trio.lowlevel.reschedule(task)
        else:
            self._flag = True

    async def wait(self) -> None:
        if self._flag:
            self._flag = False
            await trio.lowlevel.checkpoint()
            return
        self._task = trio.lowlevel.current_task()
        await trio.lowlevel.wait_task_rescheduled(self._abort)

    def _abort(self, _raise_cancel: object) -> trio.lowlevel.Abort:
        self._task = None
        return trio.lowlevel.Abort.SUCCEEDED
