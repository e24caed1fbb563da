#!/usr/bin/env bash
kubectl patch service docs -n docs --type=json -p='[{"op": "replace", "path": "/spec/ports/0/targetPort", "value": 80}]'
