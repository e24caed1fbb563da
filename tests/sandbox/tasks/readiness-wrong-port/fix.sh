#!/usr/bin/env bash
kubectl patch deployment invoices -n billing --type=json -p='[{"op": "replace", "path": "/spec/template/spec/containers/0/readinessProbe/httpGet/port", "value": 80}]'
