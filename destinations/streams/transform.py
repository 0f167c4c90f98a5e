"""A stream's Python transformation, run so that it can never stop the stream.

`transform: module:function` takes the event (a dict) and returns the event, a list of
events (one in, several out), or None (drop). Whatever goes wrong in it (an exception, a
return of the wrong shape, too many outputs, running past its time budget in the main
thread) becomes a `TransformFailed` carrying the traceback: the forwarder dead-letters that
one event and goes on. The function gets a deep copy, so it cannot change what other
streams of the same event see.
Imports headwater.import_target only.
"""

from __future__ import annotations

import copy
import signal
import threading
import traceback
from typing import Any, Callable

from headwater.import_target import import_target

MAX_OUTPUTS = 100


class TransformFailed(Exception):
    def __init__(self, message: str, trace: str):
        super().__init__(message)
        self.trace = trace


class _TimedOut(Exception):
    pass


class Transformation:
    def __init__(self, target: str | None, timeout_seconds: float = 2.0):
        self.target, self.timeout_seconds = target, timeout_seconds
        self.function: Callable[[dict], Any] | None = import_target(target) if target else None

    def apply(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        """The events to send instead of `message` (empty: dropped by the transformation)."""
        if self.function is None:
            return [message]
        try:
            result = self._call(copy.deepcopy(message))
        except _TimedOut:
            raise TransformFailed(f"{self.target} ran longer than {self.timeout_seconds:g} s", "") from None
        except Exception as error:  # noqa: BLE001 - any failure of user code is this event's, not the stream's
            raise TransformFailed(f"{self.target} raised {error.__class__.__name__}: {error}",
                                  traceback.format_exc(limit=20)) from None
        outputs = [] if result is None else result if isinstance(result, list) else [result]
        if len(outputs) > MAX_OUTPUTS:
            raise TransformFailed(f"{self.target} returned {len(outputs)} events; at most {MAX_OUTPUTS}", "")
        for index, output in enumerate(outputs):
            if not isinstance(output, dict):
                raise TransformFailed(f"{self.target} returned {type(output).__name__} at [{index}]; "
                                      "return an event dict, a list of them, or None", "")
        base = str(message.get("messageId") or "")
        for index, output in enumerate(outputs):
            output.setdefault("type", message.get("type"))
            if index and output.get("messageId") in (None, base):
                output["messageId"] = f"{base}-{index}"   # each output keeps a key of its own for the vendor
            output.setdefault("messageId", base)
        return outputs

    def _call(self, message: dict[str, Any]) -> Any:
        if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
            return self.function(message)

        def expire(signum, frame):
            raise _TimedOut()

        previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, self.timeout_seconds)
        try:
            return self.function(message)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
