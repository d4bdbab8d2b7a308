#!/bin/bash
# shellcheck disable=SC2317 # the log_* functions are called by frrcommon.sh, stop() by the trap
# The frr container's main process (under the image's tini): starts watchfrr, which starts the
# daemons listed in /etc/frr/daemons, like the image's docker-start. On SIGTERM it stops them in
# order instead of leaving them to SIGKILL: watchfrr first (so it restarts nothing), then every
# daemon with SIGINT, so bgpd sends a Cease to its peers and zebra removes its routes from the
# node's kernel table. By then the advertiser has withdrawn its routes (see wait-for-advertiser.sh).
log_success_msg() { echo "$@"; }
log_warning_msg() { echo "$@" >&2; }
log_failure_msg() { echo "$@" >&2; }
# shellcheck source=/dev/null
. /usr/lib/frr/frrcommon.sh

watchfrr=""
stop() {
  echo "frr: stopping watchfrr, then the daemons"
  if [ -n "$watchfrr" ]; then
    kill -TERM "$watchfrr" 2>/dev/null
    wait "$watchfrr" 2>/dev/null
  fi
  all_stop
  echo "frr: stopped"
  exit 0
}
trap stop TERM INT

# shellcheck disable=SC2046 # daemon_list prints one word per daemon
/usr/lib/frr/watchfrr $(daemon_list) &
watchfrr=$!
wait "$watchfrr"
status=$?
# Only reached when watchfrr ended by itself (a signal runs stop, which exits).
echo "frr: watchfrr exited with status $status; stopping the daemons" >&2
all_stop
exit 1
