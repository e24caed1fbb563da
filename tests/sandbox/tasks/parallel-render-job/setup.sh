#!/usr/bin/env bash
kubectl delete namespace render --ignore-not-found
kubectl create namespace render
