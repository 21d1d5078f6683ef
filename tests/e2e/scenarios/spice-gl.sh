# shellcheck shell=bash
# SPICE with GL on a real render node (vgem's, the one this guest can have) for the mbochs vGPU's dmabuf display:
# QEMU runs with -spice disable-ticketing=on,gl=on,rendernode=NODE and no port, vgpuvm lends it the node and takes it
# back, and a SPICE client's link on the supervisor's socket (RUNTIME/NAME/spice.sock) is answered by QEMU's SPICE
# server, through the fd the supervisor accepted and handed over (getfd, add_client). No guest sets a mode here, so
# there is no picture to take (see mbochs.sh); spice.bats shows one under TCG without GL.
# shellcheck source=tests/e2e/lib.sh
. "$E2E_TOP/tests/e2e/lib.sh"
P=$E2E_PROFILES/e2e-mbochs.json
N=e2e-mbochs
SET='display={"type": "spice", "gl": true, "rendernode": "/dev/dri/renderD128"}'

step "mbochs and vgem loaded"
load_driver mbochs
load_vgem
vgpuvm argv "$P" --set "$SET" | grep -qx 'disable-ticketing=on,gl=on,rendernode=/dev/dri/renderD128' ||
	fail "vgpuvm argv has no -spice disable-ticketing=on,gl=on,rendernode=/dev/dri/renderD128"
ok "vgpuvm argv: -spice disable-ticketing=on,gl=on,rendernode=/dev/dri/renderD128"

step "vgpuvm run with a SPICE GL display: runs, the node lent"
vm_start $N "$P" --set "$SET"
vm_wait_running $N
Q=$(json_field $N qemu_pid)
log_has $N "lent /dev/dri/renderD128 to QEMU's user"
check_owner /dev/dri/renderD128 "$(stat -c %u "/proc/$Q")" "while QEMU runs (QEMU's uid)"
tr '\0' ' ' <"/proc/$Q/cmdline" | grep -q -- '-spice disable-ticketing=on,gl=on,rendernode=/dev/dri/renderD128 ' ||
	fail "QEMU's command line has no SPICE GL"
SOCK=$("$VGPUVM" status $N --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["display"]["spice"]["socket"])') ||
	fail "status --json has no display.spice.socket"
[ "$(stat -c '%F %a %U' "$SOCK")" = "socket 600 root" ] || fail "$SOCK: $(stat -c '%F %a %U' "$SOCK")"
ok "status: SPICE on $SOCK, a socket mode 0600, root's"

step "a SPICE link on the supervisor's socket reaches QEMU's SPICE server, with GL on"
python3 - "$SOCK" <<'PY' || fail "no SPICE answer on $SOCK"
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(20)
mess = bytes(4) + bytes([1, 0]) + bytes(8) + (18).to_bytes(4, "little")  # the main channel, no caps
s.sendall(b"REDQ" + (2).to_bytes(4, "little") * 2 + len(mess).to_bytes(4, "little") + mess)
reply = s.recv(16)
print("reply:", reply[:4])
sys.exit(0 if reply[:4] == b"REDQ" else 1)
PY
log_has $N "spice: a viewer connected"
show vgpuvm qmp $N '{"execute": "query-spice"}' || fail "query-spice"
ok "QEMU's SPICE server answered the link"

step "stop: the node given back, the mdev and the socket gone"
show vgpuvm stop $N --force || fail "vgpuvm stop $N exited $?"
vm_expect_exit $N 0
check_owner /dev/dri/renderD128 0 "after the run"
[ -e "$SOCK" ] && fail "$SOCK is still there"
ok "$SOCK is gone"
e2e_pass
