#!/bin/sh
# Startup and liveness probe of the frr container: zebra and bgpd answer vtysh (the same check
# the advertiser makes before it applies a config).
out=$(vtysh -c 'show daemons' 2>&1) || exit 1
echo "$out" | grep -qw zebra && echo "$out" | grep -qw bgpd
