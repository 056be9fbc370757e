#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs what is missing, builds, and starts a redundant setup on loopback: an understudy
# primary and two understudy backups (the second a backup of the first backup), TSIG on every
# transfer. Shows them answering, then a change made on the primary reaching both backups.
# The daemons keep running; the last lines say how to stop them.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
PORT=${PORT:-5300}

sh scripts/setup.sh
make -j2

demo="$top/demo"
mkdir -p "$demo"
for n in primary backup1 backup2; do
	pidf="$demo/$n/pid"
	if [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; then
		echo "stopping the previous demo's $n (pid $(cat "$pidf"))"
		kill "$(cat "$pidf")"
		while kill -0 "$(cat "$pidf")" 2>/dev/null; do sleep 0.1; done
	fi
	rm -rf "${demo:?}/$n"
	mkdir -p "$demo/$n"
done
secret=$(head -c 32 /dev/urandom | base64)

# conf NAME PORT ZONE-LINES: one daemon's configuration, sharing the transfer key.
conf() {
	cat > "$demo/$1/understudy.yaml" <<EOC
server:
  listen: ["127.0.0.1@$2", "::1@$2"]
  storage: "$demo/$1/storage"
  control: "$demo/$1/ctl.sock"
  identity: "$1"
  nsid: "$1"
  udp-workers: 1
  watch-ns: false    # the demo zone's NS addresses are documentation addresses
log: {target: "$demo/$1/understudy.log", level: info}
keys:
  - {id: demo-xfr, algorithm: hmac-sha256, secret: "$secret"}
remotes:
  - {id: upstream, address: "127.0.0.1@$(($2 - 1))", key: demo-xfr}
  - {id: downstream, address: "127.0.0.1@$(($2 + 1))", key: demo-xfr}
acls:
  - {id: downstream, address: [127.0.0.0/8], key: demo-xfr, action: transfer}
zones:
$3
EOC
}
cp etc/zones/example.com.zone "$demo/primary/"
conf primary "$PORT" "  - {domain: example.com, role: primary, file: \"$demo/primary/example.com.zone\", acl: [downstream], notify: [downstream]}"
conf backup1 $((PORT + 1)) "  - {domain: example.com, role: secondary, primaries: [upstream], acl: [downstream], notify: [downstream]}"
conf backup2 $((PORT + 2)) "  - {domain: example.com, role: secondary, primaries: [upstream]}"
build/understudy check-zone example.com "$demo/primary/example.com.zone"

serial() {
	dig +time=1 +tries=1 +short @127.0.0.1 -p "$1" example.com SOA 2>/dev/null | awk '{print $3}'
}
# wait_serial PORT SERIAL NAME: polls until the daemon answers that serial.
wait_serial() {
	tries=0
	until [ "$(serial "$1")" = "$2" ]; do
		tries=$((tries + 1))
		if [ $tries -gt 100 ] || ! kill -0 "$(cat "$demo/$3/pid")" 2>/dev/null; then
			echo "$3 did not reach serial $2; see $demo/$3/understudy.log" >&2
			exit 1
		fi
		sleep 0.1
	done
}

port=$PORT
for n in primary backup1 backup2; do
	build/understudy check-conf -c "$demo/$n/understudy.yaml" >/dev/null
	build/understudy serve -c "$demo/$n/understudy.yaml" </dev/null \
		>>"$demo/$n/understudy.log" 2>&1 &
	echo $! > "$demo/$n/pid"
	port=$((port + 1))
done
first=$(awk '$2 == "SOA" {print $5; exit}' "$demo/primary/example.com.zone")
wait_serial "$PORT" "$first" primary
wait_serial $((PORT + 1)) "$first" backup1
wait_serial $((PORT + 2)) "$first" backup2

show() {
	echo "\$ dig @127.0.0.1 -p $1 $2 $3"
	dig @127.0.0.1 -p "$1" +norec +noall +answer +authority "$2" "$3"
	echo
}
show "$PORT" www.example.com A
show "$PORT" alice.users.example.com TXT
show "$PORT" host.lab.example.com A
show $((PORT + 1)) a.old.example.com A
show $((PORT + 2)) example.com MX

echo "A change on the primary: a new record and the serial bumped."
next=$((first + 1))
sed -i "s/$first/$next/" "$demo/primary/example.com.zone"
echo 'news	TXT	"hello from the primary"' >> "$demo/primary/example.com.zone"
build/understudy ctl -s "$demo/primary/ctl.sock" reload example.com
# The primary NOTIFYs backup1, which transfers and NOTIFYs backup2 in turn.
wait_serial $((PORT + 1)) "$next" backup1
wait_serial $((PORT + 2)) "$next" backup2
show $((PORT + 2)) news.example.com TXT
for n in primary backup1 backup2; do
	printf '%-8s ' "$n"
	build/understudy ctl -s "$demo/$n/ctl.sock" zone-status example.com
done
grep -h "finished\|NOTIFY" "$demo"/*/understudy.log | sort | sed 's/^/  /'
cat <<EOM

Running on 127.0.0.1 and ::1: the primary on port $PORT, backup1 on $((PORT + 1)) (a backup
of the primary), backup2 on $((PORT + 2)) (a backup of backup1).
  query one:   dig @127.0.0.1 -p $((PORT + 2)) example.com ANY
  change it:   edit $demo/primary/example.com.zone, bump the serial, then
               build/understudy ctl -s $demo/primary/ctl.sock reload
               (the primary NOTIFYs backup1, which NOTIFYs backup2)
  logs:        $demo/*/understudy.log
  stop them:   for n in primary backup1 backup2; do
                 build/understudy ctl -s $demo/\$n/ctl.sock stop; done
EOM
