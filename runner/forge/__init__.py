"""The outward side: pull requests, escalation issues and the events people make."""
