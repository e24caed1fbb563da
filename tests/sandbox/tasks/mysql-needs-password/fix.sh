#!/usr/bin/env bash
kubectl create secret generic mysql-auth -n data --from-literal=MYSQL_ROOT_PASSWORD=change-me
kubectl set env deployment/mysql -n data --from=secret/mysql-auth
