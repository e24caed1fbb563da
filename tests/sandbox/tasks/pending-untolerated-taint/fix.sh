#!/usr/bin/env bash
kubectl patch deployment ingest -n batch-jobs --type=json -p='[{"op": "add", "path": "/spec/template/spec/tolerations", "value": [{"key": "workload", "operator": "Equal", "value": "batch", "effect": "NoSchedule"}]}]'
