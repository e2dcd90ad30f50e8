"""Bounds on one solve: wall-clock deadline, search nodes, cancellation, and a progress callback."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

ProgressFn = Callable[[float, float | None, str], None]  # (progress, total, message)


@dataclass
class Budget:
    deadline: float | None = None  # a time.monotonic() instant
    max_nodes: int | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    progress: ProgressFn | None = None

    @classmethod
    def of(cls, seconds: float | None = None, max_nodes: int | None = None,
           cancel: threading.Event | None = None, progress: ProgressFn | None = None) -> Budget:
        deadline = None if seconds is None else time.monotonic() + seconds
        return cls(deadline, max_nodes, cancel or threading.Event(), progress)

    def exhausted(self, nodes: int = 0) -> str | None:
        """Why the work must stop now ('cancelled', 'time', 'nodes'), or None to go on."""
        if self.cancel.is_set():
            return "cancelled"
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return "time"
        if self.max_nodes is not None and nodes >= self.max_nodes:
            return "nodes"
        return None

    def report(self, progress: float, total: float | None, message: str) -> None:
        if self.progress is not None:
            self.progress(progress, total, message)
