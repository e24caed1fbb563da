#!/usr/bin/env bash
kubectl get configmap proxy-conf -n gateway -o jsonpath='{.data.default\.conf}' | grep -q "listen" || exit 1
kubectl rollout status deployment/proxy -n gateway --timeout=30s
