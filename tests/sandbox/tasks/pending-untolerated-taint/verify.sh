#!/usr/bin/env bash
kubectl get pods -n batch-jobs -l app=ingest --field-selector=status.phase=Pending -o name | grep -q pod/ && exit 1
kubectl rollout status deployment/ingest -n batch-jobs --timeout=30s || exit 1
kubectl get nodes -o jsonpath='{.items[*].spec.taints[*].key}' | grep -q workload || exit 1
[ "$(kubectl get deploy ingest -n batch-jobs -o jsonpath='{.status.readyReplicas}')" = "2" ]
