#!/usr/bin/env bash
[ -n "$(kubectl get pod indexer -n search -o jsonpath='{.spec.nodeName}')" ] || exit 1
kubectl wait --for=condition=Ready pod/indexer -n search --timeout=20s || exit 1
[ "$(kubectl get pod indexer -n search -o jsonpath='{.spec.nodeName}')" = "sandbox-worker2" ] || exit 1
[ "$(kubectl get pod indexer -n search -o jsonpath='{.spec.nodeSelector.disktype}')" = "ssd" ]
