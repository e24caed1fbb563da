#!/usr/bin/env bash
kubectl delete pod uploader -n media --wait=false
kubectl delete pvc uploads -n media
sed 's/premium-ssd/standard/' artifacts/uploads.yaml | kubectl apply -f -
