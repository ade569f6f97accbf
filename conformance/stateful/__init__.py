"""The stateful, model-based phase of the conformance suite.

Random multi-user sessions (Hypothesis's rule-based state machines) are played against the
server under test through the project's client path, and after every step a model of the
protocol written from the contract (``model.py``) says what each socket must have received.
"""

from taskchat.conformance.stateful.phase import StatefulPhase, run_phase

__all__ = ["StatefulPhase", "run_phase"]
