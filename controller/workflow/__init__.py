"""controller/workflow."""
