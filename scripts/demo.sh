#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs what is missing, builds, and starts understudy on loopback serving the demo zone,
# then shows it answering. The daemon keeps running; the last lines say how to stop it.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
PORT=${PORT:-5300}

sh scripts/setup.sh
make -j2

demo="$top/demo"
mkdir -p "$demo"
if [ -f "$demo/pid" ] && kill -0 "$(cat "$demo/pid")" 2>/dev/null; then
	echo "stopping the previous demo (pid $(cat "$demo/pid"))"
	kill "$(cat "$demo/pid")"
	while kill -0 "$(cat "$demo/pid")" 2>/dev/null; do sleep 0.1; done
fi
cp etc/zones/example.com.zone "$demo/"
cat > "$demo/understudy.yaml" <<EOC
server:
  listen: ["127.0.0.1@$PORT", "::1@$PORT"]
  storage: "$demo/storage"
  control: "$demo/ctl.sock"
  identity: "demo-primary"
  nsid: "demo-primary"
log: {target: "$demo/understudy.log", level: info}
zones:
  - domain: example.com
    role: primary
    file: "$demo/example.com.zone"
EOC
build/understudy check-conf -c "$demo/understudy.yaml"
build/understudy check-zone example.com "$demo/example.com.zone"
build/understudy serve -c "$demo/understudy.yaml" </dev/null >>"$demo/understudy.log" 2>&1 &
echo $! > "$demo/pid"
tries=0
until dig +time=1 +tries=1 @127.0.0.1 -p "$PORT" example.com SOA >/dev/null 2>&1; do
	tries=$((tries + 1))
	if [ $tries -gt 50 ] || ! kill -0 "$(cat "$demo/pid")" 2>/dev/null; then
		echo "the demo server did not start; see $demo/understudy.log" >&2
		exit 1
	fi
	sleep 0.1
done

show() {
	echo "\$ dig @127.0.0.1 -p $PORT $*"
	dig @127.0.0.1 -p "$PORT" +norec +noall +answer +authority "$@"
	echo
}
show example.com SOA
show www.example.com A
show alice.users.example.com TXT
show host.lab.example.com A
show a.old.example.com A
show version.bind CH TXT
build/understudy ctl -s "$demo/ctl.sock" zone-status
cat <<EOM

understudy is running (pid $(cat "$demo/pid")) on 127.0.0.1 and ::1 port $PORT.
  query it:    dig @127.0.0.1 -p $PORT example.com ANY
  edit $demo/example.com.zone, bump the serial, then:
               build/understudy ctl -s $demo/ctl.sock reload
  its log:     $demo/understudy.log
  stop it:     build/understudy ctl -s $demo/ctl.sock stop
EOM
