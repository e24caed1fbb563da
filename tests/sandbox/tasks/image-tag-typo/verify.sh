#!/usr/bin/env bash
image=$(kubectl get deployment web -n storefront -o jsonpath='{.spec.template.spec.containers[0].image}')
[ "$image" = "nginx:1.27-alpine" ] || [ "$image" = "docker.io/library/nginx:1.27-alpine" ] || exit 1
kubectl rollout status deployment/web -n storefront --timeout=30s || exit 1
ready=$(kubectl get deployment web -n storefront -o jsonpath='{.status.readyReplicas}')
[ "$ready" = "2" ]
