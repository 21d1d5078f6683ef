# shellcheck shell=bash
# The Linux test guest on QEMU's user networking: reports its devices, fetches http://10.0.2.2:$PORT/token from the
# host's test server (10.0.2.2 is the host's 127.0.0.1 through user networking) into "fetched ...", then serves one
# HTTP request on guest port $GUEST_PORT (forwarded from the host) with the body $SERVE, and powers off.
#   params: PORT, GUEST_PORT, SERVE
set -u
. "$E2E_TOP/tests/guest-linux/lib.sh"
params
load_drivers
out=$E2E_WORK/report
report_devices >"$out"
dev=$(awk '$1 == "nic" { print $2; exit }' "$out")
ip link set lo up
ip link set "$dev" up
ip addr add 10.0.2.15/24 dev "$dev"
ip route add default via 10.0.2.2
echo "fetched $(python3 -c "import sys, urllib.request; print(urllib.request.urlopen('http://10.0.2.2:$PORT/token', timeout=30).read().decode().strip())" 2>&1 | tail -n1)" >>"$out"
# One request, within 60 s: the host's test connects once "listening" is in the report.
python3 - "$GUEST_PORT" "$SERVE" >>"$out" 2>&1 <<'PY'
import http.server, socket, sys
port, body = int(sys.argv[1]), sys.argv[2].encode()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        print("served %s" % self.client_address[0], flush=True)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("0.0.0.0", port), H)
s.timeout = 60
print("listening %d" % port, flush=True)
s.handle_request()
PY
