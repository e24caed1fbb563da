"""Tools behind the CLI: bootstrapping a cluster, the chat client, the eval runner."""
