#!/bin/sh
# preStop hook of the frr container: keeps FRR running until the advertiser has withdrawn its
# routes and exited. The advertiser receives SIGTERM at the same moment this hook starts; it
# answers /healthz until its drain is complete, then closes its server and exits. Two failed
# requests in a row (one second apart) mean it is gone; without wget, curl or node in the image this
# degrades to sleeping for the whole drain bound.
# Env: ADVERTISER_HEALTH_URL, ADVERTISER_DRAIN_SECONDS (shutdownTimeoutSeconds + 5).
end=$(($(date +%s) + ADVERTISER_DRAIN_SECONDS))
alive() {
  if command -v wget >/dev/null 2>&1; then
    wget -q -T 2 -O /dev/null "$ADVERTISER_HEALTH_URL" 2>/dev/null
  elif command -v curl >/dev/null 2>&1; then
    curl -fsS -m 2 -o /dev/null "$ADVERTISER_HEALTH_URL" 2>/dev/null
  elif command -v node >/dev/null 2>&1; then
    # The frr-advertiser image has neither wget nor curl, but Node.
    node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(2000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$ADVERTISER_HEALTH_URL" 2>/dev/null
  else
    return 0
  fi
}
misses=0
while [ "$(date +%s)" -lt "$end" ]; do
  if alive; then misses=0; else misses=$((misses + 1)); fi
  [ "$misses" -ge 2 ] && exit 0
  sleep 1
done
exit 0
