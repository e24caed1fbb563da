#!/usr/bin/env bash
[ "$(kubectl get pvc archive-data -n archive -o jsonpath='{.spec.resources.requests.storage}')" = "5Gi" ] || exit 1
pv=$(kubectl get pvc archive-data -n archive -o jsonpath='{.spec.volumeName}')
[ -n "$pv" ] || exit 1
kubectl wait --for=jsonpath='{.spec.capacity.storage}'=5Gi pv/"$pv" --timeout=30s || exit 1
[ "$(kubectl get pvc archive-data -n archive -o jsonpath='{.status.capacity.storage}')" = "5Gi" ] || exit 1
kubectl get pod archiver -n archive -o name | grep -q archiver
