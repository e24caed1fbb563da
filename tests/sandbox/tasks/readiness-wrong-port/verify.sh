#!/usr/bin/env bash
ips=$(kubectl get endpoints invoices -n billing -o jsonpath='{.subsets[0].addresses[*].ip}')
[ "$(echo $ips | wc -w)" = "2" ] || exit 1
kubectl rollout status deployment/invoices -n billing --timeout=30s || exit 1
[ -n "$(kubectl get deploy invoices -n billing -o jsonpath='{.spec.template.spec.containers[0].readinessProbe}')" ]
