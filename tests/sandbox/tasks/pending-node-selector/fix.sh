#!/usr/bin/env bash
kubectl label node sandbox-worker2 disktype=ssd --overwrite
kubectl wait --for=condition=Ready pod/indexer -n search --timeout=20s
