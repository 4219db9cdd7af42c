#!/usr/bin/env bash
# Install the Debian packages the local stack and the browser tests use, on Debian 12, as root.
#
# Idempotent: when every program is already there, apt is not touched (a second run takes well
# under a second). The packages' own services (redis-server, clickhouse-server) would take ports
# 6379 and 9000 that `consentstream up` needs, so they are kept from starting during the install
# (policy-rc.d), stopped if running anyway, and disabled. Kafka is not a Debian package: its jars
# come from Maven Central on the first `consentstream up`.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

# program to check -> Debian package providing it
declare -A NEEDED=(
  [/usr/bin/redis-server]=redis-server
  [/usr/sbin/clickhouse-server]=clickhouse-server
  [/usr/bin/clickhouse-client]=clickhouse-client
  [/usr/bin/chromium]=chromium
  [java]=openjdk-17-jre-headless
  [mvn]=maven
)

missing_packages() {
  local program
  for program in "${!NEEDED[@]}"; do
    if ! command -v "$program" >/dev/null 2>&1; then
      echo "${NEEDED[$program]}"
    fi
  done | sort -u
}

# Debian's way to tell maintainer scripts "do not start services": exit code 101.
# Installed only for the duration of the install, and only if the machine has none.
POLICY=/usr/sbin/policy-rc.d
OUR_POLICY=""
block_service_starts() {
  if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\n# temporary, from consentstream install-system-deps.sh\nexit 101\n' >"$POLICY"
    chmod 755 "$POLICY"
    OUR_POLICY=1
  fi
}
unblock_service_starts() {
  if [ -n "$OUR_POLICY" ]; then rm -f "$POLICY"; fi
}

# Stop the packaged daemons only: they run as the packages' own users, our stack does not.
stop_packaged_service() {
  local service=$1 user=$2 daemon=$3
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now "$service.service" >/dev/null 2>&1 || true
  fi
  if [ -x "/etc/init.d/$service" ] && command -v update-rc.d >/dev/null 2>&1; then
    update-rc.d "$service" disable >/dev/null 2>&1 || true
  fi
  if [ -x "$daemon" ] && id "$user" >/dev/null 2>&1; then
    start-stop-daemon --stop --quiet --oknodo --retry TERM/30/KILL/5 \
      --user "$user" --exec "$daemon" || true
  fi
}

main() {
  local packages
  packages=$(missing_packages)
  if [ -z "$packages" ]; then
    echo "install-system-deps: everything already installed"
    return 0
  fi
  echo "install-system-deps: installing:" $packages
  block_service_starts
  trap unblock_service_starts EXIT
  apt-get update -q
  # shellcheck disable=SC2086 # one word per package
  apt-get install -y -q $packages
  unblock_service_starts
  stop_packaged_service redis-server redis /usr/bin/redis-server
  stop_packaged_service clickhouse-server clickhouse /usr/sbin/clickhouse-server
  echo "install-system-deps: done"
}

main "$@"
