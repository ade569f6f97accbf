"""STATE: the stateful phase, as one check (its sessions and model live in ``conformance/stateful``)."""

from __future__ import annotations

from taskchat.conformance.context import Ctx
from taskchat.conformance.registry import check
from taskchat.conformance.stateful import run_phase


# STATE-1 first: the check's area is STATE, so `--only STATE` runs the phase alone. The other
# ids are what the model predicts at every step; a divergence names the one it breaks.
@check("STATE-1", "STATE-2", "ROOM-1", "ROOM-2", "ROOM-3", "ROOM-4", "ROOM-5", "ROOM-6",
       "PRES-1", "PRES-2", "PRES-3", "PERM-1", "PERM-2", "PERM-3", "PERM-4", "PERM-5", "PERM-6",
       "PERM-7", "MSG-1", "MSG-2", "MSG-4", "MSG-5", "MSG-6", "MSG-7", "MSG-8", "MSG-9",
       "TYPE-1", "TYPE-2", "TYPE-3", "TYPE-5", "BACK-1", "BACK-2", "BACK-3", "ERR-1", "ERR-2",
       "ORDER-1", "ORDER-2", "STORE-2", "STORE-3", "STORE-4",
       needs=["control", "secret"])
def model_based_slow(ctx: Ctx) -> None:
    """Random sessions of several users and sockets (two tabs, a viewer, the backend) in
    several rooms, every protocol action; after each step every ack and every socket's events
    are compared with a model of the contract. A divergence is shrunk to the fewest steps that
    still show it and can be replayed with the printed seed."""
    run_phase(ctx)
