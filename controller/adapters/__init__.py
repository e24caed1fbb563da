"""Adapters: the only modules that talk to Kubernetes, git, forges, webhooks and databases."""
