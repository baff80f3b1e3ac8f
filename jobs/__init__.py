"""Background jobs: the project's one way to defer work (`jobs.defer`) and its task decorator.

The bottom layer: it imports no other app of ours, so every app may defer jobs through it.
See docs/jobs.md.
"""

from jobs.api import QUEUES, defer, runs_inline, task

__all__ = ["QUEUES", "defer", "runs_inline", "task"]
