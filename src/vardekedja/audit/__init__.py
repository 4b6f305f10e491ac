"""Audit: a hash chain over the event log, signed checkpoints, export, offline verification and as-of replay."""
