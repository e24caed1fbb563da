#!/usr/bin/env bash
kubectl get secret mysql-auth -n data -o name | grep -q mysql-auth || exit 1
kubectl get deploy mysql -n data -o json | grep -q '"mysql-auth"' || exit 1
kubectl rollout status deployment/mysql -n data --timeout=30s || exit 1
kubectl logs -n data deployment/mysql | grep -q "ready for connections"
