#!/usr/bin/env bash
kubectl patch deployment portal -n portal --type=json -p='[{"op": "replace", "path": "/spec/template/spec/containers/0/livenessProbe/httpGet/path", "value": "/"}]'
kubectl rollout status deployment/portal -n portal --timeout=30s
