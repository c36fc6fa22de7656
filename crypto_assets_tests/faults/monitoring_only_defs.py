"""An empty code location, for a daemon that only watches runs (run monitoring): the fault suite's
runs are ``crypto backfill`` processes and its own catch-up ticks, never the daemon's sensors."""

import dagster as dg

defs = dg.Definitions()
