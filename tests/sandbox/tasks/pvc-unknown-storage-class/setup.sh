#!/usr/bin/env bash
kubectl delete namespace media --ignore-not-found
kubectl create namespace media
kubectl apply -f artifacts/uploads.yaml
