#!/usr/bin/env bash
args=$(kubectl get deployment cache-warmer -n caching -o jsonpath='{.spec.template.spec.containers[0].args}')
echo "$args" | grep -q '200M' || exit 1
for pod in $(kubectl get pods -n caching -l app=cache-warmer -o jsonpath='{.items[*].metadata.name}'); do
  phase=$(kubectl get pod "$pod" -n caching -o jsonpath='{.metadata.deletionTimestamp}')
  [ -n "$phase" ] && continue
  restarts=$(kubectl get pod "$pod" -n caching -o jsonpath='{.status.containerStatuses[0].restartCount}')
  [ "$restarts" = "0" ] || exit 1
done
kubectl rollout status deployment/cache-warmer -n caching --timeout=30s
