#!/usr/bin/env bash
path=$(kubectl get deploy portal -n portal -o jsonpath='{.spec.template.spec.containers[0].livenessProbe.httpGet.path}')
[ -n "$path" ] && [ "$path" != "/healthz" ] || exit 1
kubectl rollout status deployment/portal -n portal --timeout=30s || exit 1
for p in $(kubectl get pods -n portal -l app=portal -o jsonpath='{.items[*].metadata.name}'); do
  [ -n "$(kubectl get pod "$p" -n portal -o jsonpath='{.metadata.deletionTimestamp}')" ] && continue
  before=$(kubectl get pod "$p" -n portal -o jsonpath='{.status.containerStatuses[0].restartCount}')
  sleep 4
  after=$(kubectl get pod "$p" -n portal -o jsonpath='{.status.containerStatuses[0].restartCount}')
  [ "$before" = "0" ] && [ "$after" = "0" ] || exit 1
done
