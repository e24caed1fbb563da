#!/usr/bin/env bash
kubectl set image deployment/web -n storefront web=nginx:1.27-alpine
