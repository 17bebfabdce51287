"""The agent node's machinery: its tools and their kinds, tool approvals, and the durable loop (docs/agents.md)."""
