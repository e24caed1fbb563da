#!/usr/bin/env bash
port=$(kubectl get endpoints docs -n docs -o jsonpath='{.subsets[0].ports[0].port}')
[ "$port" = "80" ] || exit 1
[ "$(kubectl get svc docs -n docs -o jsonpath='{.spec.ports[0].port}')" = "80" ]
