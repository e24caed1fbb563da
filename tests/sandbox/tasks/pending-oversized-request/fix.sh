#!/usr/bin/env bash
kubectl set resources deployment/report-builder -n reports --requests=cpu=500m,memory=256Mi
