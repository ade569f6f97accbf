"""Locust scenarios for task-chat servers, with delivery (not just emit) measured.

``locust -f loadtests/locustfile.py`` opens the web UI; ``taskchat load`` runs the same scenarios
headless with thresholds (``taskchat.loadtests.cli``). Only ``cli`` may be imported outside Locust:
everything else runs under gevent's monkey-patching.
"""
