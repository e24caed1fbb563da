#!/usr/bin/env bash
kubectl get pods -n reports -l app=report-builder --field-selector=status.phase=Pending -o name | grep -q pod/ && exit 1
kubectl rollout status deployment/report-builder -n reports --timeout=30s || exit 1
[ "$(kubectl get deploy report-builder -n reports -o jsonpath='{.status.readyReplicas}')" = "2" ]
