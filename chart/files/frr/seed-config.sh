#!/bin/sh
# Init container (frr image): checks that the advertiser's groups are this image's frrvty (the
# vty sockets are frr:frrvty 0770) and frr (FRR's user must read the frr.conf the advertiser
# writes, mode 0640), then seeds FRR's config dir (an emptyDir the advertiser rewrites frr.conf in).
# Env: FRR_VTY_GID (frr.vtyGid), FRR_GID (advertiser.runAsGroup), FRR_IMAGE (for the message).
set -eu
src=$(dirname "$0")
gid_of() { sed -n "s/^$1:[^:]*:\([0-9][0-9]*\):.*\$/\1/p" /etc/group; }
check() { # group, wanted GID, value that sets it
  actual=$(gid_of "$1")
  if [ "$actual" != "$2" ]; then
    echo "frr-advertiser: group $1 has GID ${actual:-(none)} in ${FRR_IMAGE}, but $3 is $2." >&2
    echo "frr-advertiser: set $3=${actual:-<the GID>} (the advertiser reaches FRR through this group)." >&2
    exit 1
  fi
}
check frrvty "$FRR_VTY_GID" frr.vtyGid
check frr "$FRR_GID" advertiser.runAsGroup
for f in daemons vtysh.conf frr.conf; do
  cp -L "$src/$f" "/etc/frr/$f"
  chmod 0644 "/etc/frr/$f"
done
echo "frr-advertiser: seeded /etc/frr (daemons, vtysh.conf, bootstrap frr.conf); frrvty ${FRR_VTY_GID}, frr ${FRR_GID}"
