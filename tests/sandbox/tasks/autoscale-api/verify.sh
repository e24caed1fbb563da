#!/usr/bin/env bash
hpa=$(kubectl get hpa -n search-api -o jsonpath='{.items[0].metadata.name}')
[ -n "$hpa" ] || exit 1
[ "$(kubectl get hpa "$hpa" -n search-api -o jsonpath='{.spec.scaleTargetRef.name}')" = "search" ] || exit 1
[ "$(kubectl get hpa "$hpa" -n search-api -o jsonpath='{.spec.minReplicas}')" = "2" ] || exit 1
[ "$(kubectl get hpa "$hpa" -n search-api -o jsonpath='{.spec.maxReplicas}')" = "6" ] || exit 1
[ "$(kubectl get hpa "$hpa" -n search-api -o jsonpath='{.spec.metrics[0].resource.target.averageUtilization}')" = "70" ] || exit 1
kubectl wait --for=jsonpath='{.status.desiredReplicas}'=2 hpa/"$hpa" -n search-api --timeout=30s || exit 1
kubectl wait --for=jsonpath='{.status.readyReplicas}'=2 deployment/search -n search-api --timeout=30s
