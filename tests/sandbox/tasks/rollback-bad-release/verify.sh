#!/usr/bin/env bash
[ "$(kubectl get deploy checkout -n checkout -o jsonpath='{.spec.template.spec.containers[0].image}')" = "nginx:1.26" ] || exit 1
kubectl rollout status deployment/checkout -n checkout --timeout=30s || exit 1
[ "$(kubectl get deploy checkout -n checkout -o jsonpath='{.status.readyReplicas}')" = "3" ] || exit 1
[ "$(kubectl get deploy checkout -n checkout -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}')" -ge 3 ]
