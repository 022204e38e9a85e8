"""Oversight: status for terminals, job summaries, programs and the HTML dashboard."""
