#!/usr/bin/env bash
# scripts/toolchain.sh — makes sure the tools gort builds with are present, and
# installs what is missing on a Debian machine: a C compiler, CMake, and
# Emscripten (Debian's package when no emcc is on PATH; an emsdk install found
# on PATH is used as it is). Sourced by the other scripts; exports NODE_PATH
# for Debian's emcc, which needs it to find acorn.
set -euo pipefail

gort_apt_install() {
  local sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  if [ -z "${GORT_APT_UPDATED:-}" ]; then
    $sudo apt-get update -qq
    GORT_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

missing=()
command -v cc >/dev/null 2>&1 || missing+=(gcc)
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v emcc >/dev/null 2>&1 || missing+=(emscripten)
if [ ${#missing[@]} -gt 0 ]; then
  echo "toolchain: installing ${missing[*]}"
  gort_apt_install "${missing[@]}"
fi

# Debian's emscripten finds its JavaScript dependencies through NODE_PATH.
if [ -d /usr/share/nodejs ]; then
  export NODE_PATH="/usr/share/nodejs${NODE_PATH:+:$NODE_PATH}"
fi
