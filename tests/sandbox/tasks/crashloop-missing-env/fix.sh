#!/usr/bin/env bash
kubectl set env deployment/api -n orders DATABASE_URL=postgres://db.orders:5432/orders
