"""The checks, one module per area of the spec (the registry imports them all)."""
