"""One module per CLI command: load what it needs, call the core, render the result."""
