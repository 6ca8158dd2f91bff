#!/usr/bin/env bash
# The system packages the build and the tests need (Debian/Ubuntu), shared by `make test` and .ci/run.
#   mk/system-deps.sh          install what is missing when it can (root, or passwordless sudo, and apt-get);
#                              otherwise print the one command that does it and exit 1
#   mk/system-deps.sh --check  only report: exit 0 when everything is there, else print that command and exit 1
# Needed: g++ and make (build, C simulation), iverilog/vvp (the RTL tests), yosys and tclsh (RTL synthesis checks),
# python3-venv (`make install`). Verilator is optional (its tests skip with the reason) and is not installed here.
set -euo pipefail

check_only=0
[ "${1:-}" = "--check" ] && check_only=1

need=()  # Debian package names
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
{ command -v iverilog && command -v vvp; } >/dev/null 2>&1 || need+=(iverilog)
command -v yosys >/dev/null 2>&1 || need+=(yosys)
command -v tclsh >/dev/null 2>&1 || need+=(tcl)
{ command -v python3 >/dev/null 2>&1 && python3 -c 'import venv, ensurepip' 2>/dev/null; } || need+=(python3-venv)

[ ${#need[@]} -eq 0 ] && exit 0

cmd="sudo apt-get install -y ${need[*]}"
if [ "$check_only" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo"; else SUDO="none"; fi
  fi
  if [ "$SUDO" != "none" ]; then
    echo "system-deps: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "${need[@]}"
    exit 0
  fi
fi
echo "system-deps: missing ${need[*]}; install with: $cmd" >&2
exit 1
