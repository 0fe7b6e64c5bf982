"""Auditing runs: verify, compare, replay, diff, plot and the provenance exports."""
