#!/usr/bin/env bash
[ "$(kubectl get sts db -n inventory -o jsonpath='{.spec.replicas}')" = "1" ] || exit 1
kubectl wait pod/db-1 pod/db-2 -n inventory --for=delete --timeout=60s || exit 1
kubectl wait --for=condition=Ready pod/db-0 -n inventory --timeout=30s || exit 1
for claim in data-db-0 data-db-1 data-db-2; do
  [ "$(kubectl get pvc "$claim" -n inventory -o jsonpath='{.status.phase}')" = "Bound" ] || exit 1
done
