#!/usr/bin/env bash
kubectl delete namespace backups --ignore-not-found
kubectl create namespace backups
