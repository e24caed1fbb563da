#!/usr/bin/env bash
kubectl get pods -n ledger -l app=ledger -o jsonpath='{.items[*].status.containerStatuses[*].state.waiting.reason}' | grep -q CreateContainerConfigError && exit 1
kubectl rollout status deployment/ledger -n ledger --timeout=30s || exit 1
kubectl logs -n ledger deployment/ledger | grep -q "user=ledger"
