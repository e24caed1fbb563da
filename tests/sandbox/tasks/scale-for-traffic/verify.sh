#!/usr/bin/env bash
[ "$(kubectl get deploy catalog -n catalog -o jsonpath='{.spec.replicas}')" = "4" ] || exit 1
kubectl rollout status deployment/catalog -n catalog --timeout=30s || exit 1
[ "$(kubectl get pods -n catalog -l app=catalog --field-selector=status.phase=Running -o name | wc -l)" = "4" ]
