"""Sync engines: how a committed thread branch reaches the cluster (direct apply, Argo CD, Flux).

The `SyncEngine` protocol is declared where it is consumed (controller/engine/execution.py); the data
it speaks (`SyncRequest`, `SyncOutcome`, `SyncState`) lives in `base`.
"""
