"""The schema compatibility gate: does a change to ``schemas/`` break deployed clients or servers?

Two schema trees (directories or git revisions) are loaded side by side, each in its own
registry, compared structurally per event and direction, and every breaking finding is
confirmed where possible by a concrete payload that one version accepts and the other refuses.
"""
