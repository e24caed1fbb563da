#!/usr/bin/env bash
kubectl patch daemonset log-agent -n logging --type=json -p='[{"op": "add", "path": "/spec/template/spec/tolerations", "value": [{"key": "dedicated", "operator": "Equal", "value": "database", "effect": "NoSchedule"}]}]'
