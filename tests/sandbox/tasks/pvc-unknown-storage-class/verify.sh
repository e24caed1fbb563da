#!/usr/bin/env bash
[ "$(kubectl get pvc uploads -n media -o jsonpath='{.status.phase}')" = "Bound" ] || exit 1
kubectl wait --for=condition=Ready pod/uploader -n media --timeout=30s
