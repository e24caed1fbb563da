"""The action catalog: every change the operator can make, declared as data."""
