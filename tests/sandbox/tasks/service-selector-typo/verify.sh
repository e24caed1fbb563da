#!/usr/bin/env bash
ips=$(kubectl get endpoints frontend -n shop -o jsonpath='{.subsets[0].addresses[*].ip}')
[ "$(echo $ips | wc -w)" = "2" ] || exit 1
[ "$(kubectl get endpoints frontend -n shop -o jsonpath='{.subsets[0].ports[0].port}')" = "80" ] || exit 1
kubectl get endpointslices -n shop -l kubernetes.io/service-name=frontend -o jsonpath='{.items[0].endpoints[*].conditions.ready}' | grep -qv false
