# shellcheck shell=bash
# Sourced by the scripts that install what a machine lacks and fetch pinned npm packages
# (setup.sh, build-image.sh, install-node24.sh): one apt step and one integrity check for all.

# apt_install PKG...: installs the packages with apt; nothing when none are named.
apt_install() {
  [ $# -gt 0 ] || return 0
  printf '==> installing with apt: %s\n' "$*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# sri FILE: the file's sha512 in npm's integrity form.
sri() { printf 'sha512-%s' "$(openssl dgst -sha512 -binary "$1" | base64 -w0)"; }

# npm_pack_pinned SPEC PINNED DIR FILE: npm pack SPEC into DIR (unless DIR/FILE already matches),
# then fails unless both the registry's integrity and the file's are the pinned one. Quiet on stdout.
npm_pack_pinned() {
  local spec=$1 pinned=$2 dir=$3 file=$4 registry
  if [ ! -f "$dir/$file" ] || [ "$(sri "$dir/$file")" != "$pinned" ]; then
    printf '==> fetching %s from the npm registry\n' "$spec" >&2
    (cd "$dir" && npm pack "$spec" --silent >/dev/null)
  fi
  registry=$(npm view "$spec" dist.integrity)
  if [ "$registry" != "$pinned" ] || [ "$(sri "$dir/$file")" != "$pinned" ]; then
    printf 'error: %s: integrity mismatch (pinned %s, registry %s, %s %s)\n' \
      "$spec" "$pinned" "$registry" "$dir/$file" "$(sri "$dir/$file")" >&2
    return 1
  fi
}
