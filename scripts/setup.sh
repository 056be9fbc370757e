#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs everything understudy needs to build, test and benchmark on Debian 12.
# The DNS servers installed as test peers must not start services on port 53, so a
# policy-rc.d that forbids service starts is in place while apt runs.
set -eu

PKGS="build-essential pkg-config clang llvm libclang-rt-14-dev clang-format
libknot-dev liblmdb-dev libyaml-dev liburcu-dev libssl-dev libcmocka-dev libmicrohttpd-dev
python3 python3-dnspython python3-pytest
knot knot-dnsutils nsd bind9 bind9-dnsutils dnsutils dnsperf ldnsutils
pdns-server pdns-backend-sqlite3 sqlite3
iproute2 procps tcpdump faketime prometheus chromium iptables libnetfilter-queue-dev
debhelper dpkg-dev lintian debootstrap man-db systemd"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

policy=/usr/sbin/policy-rc.d
had_policy=0
[ -e "$policy" ] && had_policy=1
if [ "$had_policy" -eq 0 ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
	$SUDO chmod 755 "$policy"
	trap '$SUDO rm -f "$policy"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
