# shellcheck shell=bash
# Sourced by the scripts that install what a machine lacks and fetch pinned npm packages
# (setup.sh, build-image.sh, image-bases.sh, install-node24.sh): one apt step, one architecture
# mapping and one integrity check for all.

# apt_install PKG...: installs the packages with apt; nothing when none are named.
apt_install() {
  [ $# -gt 0 ] || return 0
  printf '==> installing with apt: %s\n' "$*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# node_arch: this machine's architecture as Node.js names it (uname -m x86_64 -> x64, aarch64 ->
# arm64), the tail of the npm package node-linux-<arch>; fails on any other machine.
node_arch() {
  local m
  m=$(uname -m)
  case "$m" in
    x86_64 | amd64) echo x64 ;;
    aarch64 | arm64) echo arm64 ;;
    *)
      printf 'error: unsupported architecture %s (uname -m): Node.js 24 is pinned for x86_64 and aarch64 only (scripts/node24.env)\n' "$m" >&2
      return 1
      ;;
  esac
}

# node24_pin ARCH: sets NODE24_PACKAGE (node-linux-ARCH) and NODE24_INTEGRITY (its pin in
# scripts/node24.env, NODE24_INTEGRITY_<ARCH>; empty when not pinned).
node24_pin() {
  local var
  var=NODE24_INTEGRITY_$(printf '%s' "$1" | tr '[:lower:]' '[:upper:]')
  # shellcheck disable=SC2034 # both are for the caller
  NODE24_PACKAGE=node-linux-$1
  # shellcheck disable=SC2034
  NODE24_INTEGRITY=${!var:-}
}

# sri FILE: the file's sha512 in npm's integrity form.
sri() { printf 'sha512-%s' "$(openssl dgst -sha512 -binary "$1" | base64 -w0)"; }

# npm_pack_pinned SPEC PINNED DIR FILE: makes DIR/FILE the npm package SPEC with the sha512 PINNED
# and prints that integrity. A cached DIR/FILE that matches the pin is used as it is: no network.
# The registry is asked only when the file is missing or differs, when COSMOLET_REFRESH_PINS=1, or
# when PINNED is empty (then the registry's integrity is used, and printed on stderr to be pinned).
npm_pack_pinned() {
  local spec=$1 pinned=$2 dir=$3 file=$4 registry
  if [ -n "$pinned" ] && [ "${COSMOLET_REFRESH_PINS:-0}" != 1 ] && [ -f "$dir/$file" ] &&
    [ "$(sri "$dir/$file")" = "$pinned" ]; then
    echo "$pinned"
    return 0
  fi
  printf '==> resolving %s on the npm registry\n' "$spec" >&2
  registry=$(npm view "$spec" dist.integrity) || registry=
  [ -n "$registry" ] || {
    printf 'error: %s: the npm registry did not answer (npm view)\n' "$spec" >&2
    return 1
  }
  if [ -z "$pinned" ]; then
    printf 'warning: %s is not pinned; using the registry'\''s %s (pin it in scripts/node24.env)\n' \
      "$spec" "$registry" >&2
    pinned=$registry
  fi
  [ "$registry" = "$pinned" ] || {
    printf 'error: %s: the registry has integrity %s, the pin is %s\n' "$spec" "$registry" "$pinned" >&2
    return 1
  }
  rm -f "${dir:?}/$file"
  (cd "$dir" && npm pack "$spec" --silent >/dev/null)
  [ "$(sri "$dir/$file")" = "$pinned" ] || {
    printf 'error: %s: %s has integrity %s, the pin is %s\n' "$spec" "$dir/$file" "$(sri "$dir/$file")" "$pinned" >&2
    return 1
  }
  echo "$pinned"
}
