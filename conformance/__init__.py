"""The conformance suite: checks any Socket.IO server against the task-chat protocol.

A black box: it reaches the server only over the network and through its config, never through
the reference server's code, because its users point it at servers written in other languages.
"""
