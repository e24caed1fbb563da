#!/usr/bin/env bash
cat > /tmp/default.conf.$$ <<CONF
server {
    listen 80;
    location / { root /usr/share/nginx/html; }
}
CONF
kubectl create configmap proxy-conf -n gateway --from-file=default.conf=/tmp/default.conf.$$
rm -f /tmp/default.conf.$$
