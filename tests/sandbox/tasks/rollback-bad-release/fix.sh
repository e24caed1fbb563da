#!/usr/bin/env bash
kubectl rollout undo deployment/checkout -n checkout
kubectl rollout status deployment/checkout -n checkout --timeout=30s
