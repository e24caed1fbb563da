#!/usr/bin/env bash
kubectl scale deployment catalog -n catalog --replicas=4
