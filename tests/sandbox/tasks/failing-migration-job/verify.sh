#!/usr/bin/env bash
kubectl get job migrate -n accounts -o jsonpath='{.status.conditions[?(@.type=="Complete")].status}' | grep -q True || exit 1
kubectl logs -n accounts job/migrate | grep -q "migrated 42 tables"
