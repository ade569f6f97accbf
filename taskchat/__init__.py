"""The task-chat toolkit: one distribution, one command (``taskchat``)."""
