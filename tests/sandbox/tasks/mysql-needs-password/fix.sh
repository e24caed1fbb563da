#!/usr/bin/env bash
kubectl create secret generic postgres-auth -n data --from-literal=POSTGRES_PASSWORD=change-me
kubectl set env deployment/postgres -n data --from=secret/postgres-auth
