#!/usr/bin/env bash
kubectl patch deployment ledger -n ledger --type=json -p='[{"op": "replace", "path": "/spec/template/spec/containers/0/env/1/valueFrom/secretKeyRef/key", "value": "pass"}]'
