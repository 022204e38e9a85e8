"""Engines that turn one task into reviewed work or a clear escalation."""
