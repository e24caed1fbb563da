#!/usr/bin/env bash
kubectl get pods -n orders -l app=api -o jsonpath='{.items[*].status.containerStatuses[*].state.waiting.reason}' | grep -q CrashLoopBackOff && exit 1
kubectl rollout status deployment/api -n orders --timeout=30s || exit 1
pod=$(kubectl get pods -n orders -l app=api --field-selector=status.phase=Running -o jsonpath='{.items[0].metadata.name}')
kubectl wait --for=condition=Ready pod/"$pod" -n orders --timeout=20s || exit 1
before=$(kubectl get pod "$pod" -n orders -o jsonpath='{.status.containerStatuses[0].restartCount}')
sleep 3
after=$(kubectl get pod "$pod" -n orders -o jsonpath='{.status.containerStatuses[0].restartCount}')
[ "$before" = "$after" ] || exit 1
kubectl logs -n orders "$pod" | grep -q "connected to postgres://" || exit 1
