#!/usr/bin/env bash
[ "$(kubectl get job thumbnails -n render -o jsonpath='{.spec.completions}')" = "6" ] || exit 1
[ "$(kubectl get job thumbnails -n render -o jsonpath='{.spec.parallelism}')" = "2" ] || exit 1
kubectl wait --for=condition=complete job/thumbnails -n render --timeout=30s || exit 1
[ "$(kubectl get job thumbnails -n render -o jsonpath='{.status.succeeded}')" = "6" ] || exit 1
[ "$(kubectl get pods -n render -l job-name=thumbnails --field-selector=status.phase=Succeeded -o name | wc -l)" = "6" ]
