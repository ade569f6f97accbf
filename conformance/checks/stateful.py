"""STATE: the stateful phase, as one check (its sessions and model live in ``conformance/stateful``)."""

from __future__ import annotations

from taskchat.conformance.context import Ctx
from taskchat.conformance.registry import check
from taskchat.conformance.stateful import run_phase


# The phase is the check of STATE-1 and STATE-2; a divergence it finds is reported under the
# requirement it breaks (PRES-2, PERM-6, ...), like a DATA-1 finding of any check. It runs in a
# whole run and with --only STATE, not when another area or requirement is selected (it plays
# for its whole budget).
@check("STATE-1", "STATE-2", needs=["control", "secret"])
def model_based_slow(ctx: Ctx) -> None:
    """Random sessions of several users and sockets (two tabs, a viewer, the backend) in
    several rooms, every protocol action; after each step every ack and every socket's events
    are compared with a model of the contract. A divergence is shrunk to the fewest steps that
    still show it and can be replayed with the printed seed."""
    run_phase(ctx)
