"""The engine: reconcile a conversation by running the state machine and executing its effects."""
