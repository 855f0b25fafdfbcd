#!/usr/bin/env bash
# Installs the Debian packages the interop tests use (QEMU as the real peer, asn1c and
# libtasn1 as outside judges of our schema and BER). Runs before `npm test`; a no-op when
# they are present. Without root it only reports what is missing: the tests then fail
# loudly rather than pass without their peer.
set -euo pipefail
need=()
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
command -v asn1c >/dev/null 2>&1 || need+=(asn1c)
command -v asn1Parser >/dev/null 2>&1 || need+=(libtasn1-bin)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-deps: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${need[@]}" >/dev/null
else
  echo "ensure-deps: missing ${need[*]}; install them (apt-get install -y ${need[*]}) or the interop tests fail" >&2
fi
