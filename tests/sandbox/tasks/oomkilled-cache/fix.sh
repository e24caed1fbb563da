#!/usr/bin/env bash
kubectl set resources deployment/cache-warmer -n caching --limits=memory=256Mi --requests=memory=220Mi
