"""Tasks: seeded generators of Samples, answer extraction, and the registry."""

from overthink.tasks.base import Knob, Task
from overthink.tasks.registry import get_task, register, task_names

__all__ = ["Knob", "Task", "get_task", "register", "task_names"]
