#!/bin/sh
# The container's entrypoint when the chart's frrVtyGroupId is null: starts cosmolet in the group
# of FRR's vty sockets (srwxrwx--- frr:frrvty), read from the node at start, so the operator need
# not know that group's id (each node's package manager chose it). In the image as
# /usr/local/bin/cosmolet-join-vty-group.
#
#   cosmolet-join-vty-group SOCKET_DIR TARGET -- COMMAND [ARG...]
#
# TARGET root (kernel origination): stays UID 0 and drops CAP_SETGID and CAP_SETPCAP, which only
# this step uses, from the bounding set, so COMMAND keeps NET_ADMIN alone.
# TARGET UID:GID (static origination): becomes that user, which leaves no capability at all.
# Without a vty socket in SOCKET_DIR (FRR not running yet) or without those capabilities it starts
# COMMAND without the group and says so; cosmolet's /readyz then names the group id to set.
set -eu
me=cosmolet-join-vty-group
if [ $# -lt 4 ] || [ "$3" != -- ]; then
  echo "usage: $me SOCKET_DIR root|UID:GID -- COMMAND [ARG...]" >&2
  exit 2
fi
dir=$1
target=$2
shift 3

gid=
for sock in "$dir"/*.vty; do
  if [ -S "$sock" ]; then
    gid=$(stat -c %g "$sock")
    break
  fi
done

# Effective capabilities in hex: CAP_SETGID is bit 6, CAP_SETUID 7, CAP_SETPCAP 8.
capeff=$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/self/status)
if [ "$target" = root ]; then
  need="6 8" names="CAP_SETGID and CAP_SETPCAP"
else
  need="6 7" names="CAP_SETUID and CAP_SETGID"
fi
able=yes
for bit in $need; do
  [ $(((0x$capeff >> bit) & 1)) = 1 ] || able=no
done

if [ -z "$gid" ]; then
  echo "$me: no FRR vty socket (*.vty) in $dir: starting without FRR's vty group (is FRR running on this node? restart the pod once it is, or set the chart's frrVtyGroupId)" >&2
elif [ "$target" = root ] && id -G | tr ' ' '\n' | grep -qx "$gid"; then
  gid=
fi
if [ "$able" = no ]; then
  hint=
  [ -z "$gid" ] || hint=" (set the chart's frrVtyGroupId: $gid)"
  echo "$me: the container lacks $names: starting $1 unchanged$hint" >&2
  exec "$@"
fi
if [ -n "$gid" ]; then
  echo "$me: joining group $gid of FRR's vty sockets in $dir" >&2
fi

if [ "$target" = root ]; then
  if [ -n "$gid" ]; then
    exec setpriv --groups "$(id -G | tr ' ' ','),$gid" --bounding-set -setgid,-setpcap --inh-caps -all -- "$@"
  fi
  exec setpriv --bounding-set -setgid,-setpcap --inh-caps -all -- "$@"
fi
run_uid=${target%%:*}
run_gid=${target#*:}
if [ -n "$gid" ]; then
  exec setpriv --reuid "$run_uid" --regid "$run_gid" --groups "$gid" --inh-caps -all -- "$@"
fi
exec setpriv --reuid "$run_uid" --regid "$run_gid" --clear-groups --inh-caps -all -- "$@"
