#!/usr/bin/env bash
[ "$(kubectl get ds log-agent -n logging -o jsonpath='{.status.desiredNumberScheduled}')" = "3" ] || exit 1
kubectl rollout status daemonset/log-agent -n logging --timeout=30s || exit 1
[ "$(kubectl get ds log-agent -n logging -o jsonpath='{.status.numberReady}')" = "3" ] || exit 1
kubectl get node sandbox-worker3 -o jsonpath='{.spec.taints[*].key}' | grep -q dedicated
