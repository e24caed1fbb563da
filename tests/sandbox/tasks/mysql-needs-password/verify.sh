#!/usr/bin/env bash
kubectl get secret postgres-auth -n data -o name | grep -q postgres-auth || exit 1
kubectl get deploy postgres -n data -o json | grep -q '"postgres-auth"' || exit 1
kubectl rollout status deployment/postgres -n data --timeout=30s || exit 1
kubectl logs -n data deployment/postgres | grep -q "ready to accept connections"
