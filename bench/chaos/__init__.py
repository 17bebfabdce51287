"""The chaos benchmark: infrastructure faults under load on the production stack (issue 19)."""
