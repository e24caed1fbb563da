"""The knowledge store: past threads that planners search before they plan."""
