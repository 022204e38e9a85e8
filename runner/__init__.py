"""fleet-runner: a GitOps runner for a fleet of LLM role agents."""

__version__ = "0.1.0"
