#!/usr/bin/env bash
[ "$(kubectl get pod wiki -n wiki -o jsonpath='{.spec.initContainers[0].image}')" = "busybox:1.36" ] || exit 1
kubectl wait --for=condition=Ready pod/wiki -n wiki --timeout=30s || exit 1
[ "$(kubectl get pod wiki -n wiki -o jsonpath='{.status.initContainerStatuses[0].state.terminated.reason}')" = "Completed" ]
