# shellcheck shell=bash
# A raw client for vgpuvm's control socket, for what the CLI cannot be made to do (garbage, oversized lines, a client
# that never reads, another uid), and a way to wait for a process to end that counts a zombie as ended (in some
# sandboxes pid 1 reaps nothing, so an orphaned QEMU stays a zombie). Both are small python3 programs run with
# $CTL_PYTHON (Debian's /usr/bin/python3 if there, so that another uid can run it too). Source this from a bats test.
#
#   ctl_socket NAME                 the control socket of the test VM NAME (see vm_name)
#   ctl_exec ARGS...                as ctl, by exec: for "ctl_exec ... &", so that $! is the client's pid
#   ctl greeting SOCK               connect, print the first line the server sends; exit 3 on EOF without a line,
#                                   4 when connect() fails (the errno name is printed)
#   ctl exchange SOCK LINE...       connect, check the greeting, send each LINE ("\r\n" added) and print the reply to
#                                   it, one a line: the next message that is not an event, or, when LINE has an id,
#                                   the next with that id; exit 3 if the server hangs up first, 7 if no such reply
#                                   comes
#   ctl stuck SOCK N                connect, send N status commands, print "sent", and then never read; print "hung up"
#                                   if the server hangs up (until killed)
#   ctl events SOCK                 connect, print "connected", then every line received, until EOF (flushed)
#   ctl oversize SOCK BYTES         send BYTES of "x" without a newline, then "\r\n"; print every line received and
#                                   "EOF" once the server hangs up (exit 0), or exit 6 if it does not
#   ctl flood SOCK SECS MAXBYTES    send one status and read its reply (SIZE bytes), then send {"execute": "status"}
#                                   without ever reading, until the server hangs up: print "disconnected after N SIZE"
#                                   (exit 0), or "still connected after N SIZE" (exit 6) once SECS pass or N * SIZE
#                                   exceeds MAXBYTES; N counts the commands sent, read by the server or not
#   ctl wait-gone PID SECS          wait (pidfd) until PID has ended (zombie or reaped); exit 1 on timeout
#   ctl shot SOCK OUT               connect, send screenshot; print the reply, then "fds N" (how many fds came with
#                                   it) and, for the first, "fd TYPE size=N sealed=yes|no"; copy its content to OUT
#   ctl shot-late SOCK              as shot, but before reading the fd ask for status on a second connection; then
#                                   print the fd's first 8 bytes in hex
#   ctl hold SOCK N                 connect N times and behave on each: take the greeting, send a status, read its
#                                   reply; print "held H turned away T", then (if H > 0) wait until killed, and on SIGTERM print
#                                   "hung up K" (how many the server has hung up on) and exit
#   ctl knock SOCK N                connect N times, one after the other, and wait for each to be greeted or hung up
#                                   on; print "greeted G refused R"
#   ctl serve SOCK MODE             a fake vgpuvm control socket at SOCK: greets, answers status and qmp_capabilities,
#                                   and screenshot with {"file": PATH} (MODE file:PATH) or with the fd of PATH opened
#                                   read-only and non-blocking (MODE fd:PATH); prints "listening", then serves until
#                                   killed
#
# Every read and write has a deadline (10 s unless said), so that a broken server fails the test instead of hanging it.

CTL_PYTHON=${CTL_PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}

read -r -d '' CTL_PY <<'PYEOF' || true
import errno, json, os, select, socket, sys, time

def die(code, msg):
    print(msg, flush=True)
    sys.exit(code)

def connect(path, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
    except OSError as e:
        die(4, "connect: " + errno.errorcode.get(e.errno, str(e.errno)))
    return s

class Lines:
    """Splits what the server sends into lines; None at EOF (a reset after the data counts as EOF)."""
    def __init__(self, s):
        self.s, self.buf = s, b""
    def next(self):
        while b"\n" not in self.buf:
            try:
                d = self.s.recv(65536)
            except ConnectionResetError:
                d = b""
            if not d:
                if self.buf:
                    line, self.buf = self.buf, b""
                    return line.decode("utf-8", "replace").rstrip("\r\n")
                return None
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode("utf-8", "replace").rstrip("\r")

def greet(s):
    r = Lines(s)
    g = r.next()
    if g is None:
        die(3, "EOF before the greeting")
    try:
        if "QMP" not in json.loads(g):
            die(5, "not a greeting: " + g)
    except ValueError:
        die(5, "not JSON: " + g)
    return r

def cmd_greeting(path):
    s = connect(path)
    line = Lines(s).next()
    if line is None:
        die(3, "EOF")
    print(line)

def reply_to(r, line):
    """The reply to a command: the next message that is not an event, or, when the command has an id, the next one
    with that id (a server may answer garbage with more than one error)."""
    want = None
    try:
        c = json.loads(line)
        if isinstance(c, dict) and "id" in c:
            want = c["id"]
    except ValueError:
        pass
    skipped = []
    while True:
        try:
            m = r.next()
        except socket.timeout:
            die(7, "no reply%s within 10 s; skipped: %s" % ("" if want is None else " with id %s" % json.dumps(want),
                                                             " / ".join(x[:200] for x in skipped) or "nothing"))
        if m is None:
            die(3, "EOF")
        skipped.append(m)
        try:
            j = json.loads(m)
        except ValueError:
            j = None
        if isinstance(j, dict) and "event" in j:
            continue
        if want is not None and not (isinstance(j, dict) and j.get("id") == want):
            continue
        return m

def cmd_exchange(path, *lines):
    s = connect(path)
    r = greet(s)
    for l in lines:
        s.sendall(os.fsencode(l) + b"\r\n")
        print(reply_to(r, l), flush=True)

def cmd_stuck(path, n):
    s = connect(path)
    greet(s)
    s.sendall(b'{"execute": "status"}\r\n' * int(n))
    print("sent", flush=True)
    # Wait for a hang-up without reading: POLLRDHUP and POLLHUP say so while the replies stay unread.
    p = select.poll()
    p.register(s, select.POLLRDHUP)
    while True:
        for fd, ev in p.poll():
            if ev & (select.POLLRDHUP | select.POLLHUP | select.POLLERR):
                print("hung up", flush=True)
                return

def cmd_events(path):
    s = connect(path, timeout=120)
    r = greet(s)
    print("connected", flush=True)
    while True:
        m = r.next()
        if m is None:
            print("EOF", flush=True)
            return
        print(m, flush=True)

def cmd_oversize(path, nbytes):
    s = connect(path)
    r = greet(s)
    try:
        s.sendall(b"x" * int(nbytes))
        s.sendall(b"\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    except socket.timeout:
        die(6, "the server stopped reading and did not hang up")
    while True:
        try:
            m = r.next()
        except socket.timeout:
            die(6, "still connected")
        if m is None:
            print("EOF", flush=True)
            return
        print(m[:300], flush=True)

def cmd_flood(path, secs, maxbytes):
    s = connect(path)
    r = greet(s)
    cmd = b'{"execute": "status"}\r\n'
    # One reply, read, gives the size of each: the count below is in those terms.
    s.sendall(cmd)
    reply = r.next()
    if reply is None:
        die(3, "EOF")
    size = len(reply) + 2
    n, deadline, limit = 0, time.monotonic() + float(secs), int(maxbytes)
    s.settimeout(float(secs))
    try:
        while time.monotonic() < deadline and n * size < limit:
            s.sendall(cmd * 64)
            n += 64
    except (BrokenPipeError, ConnectionResetError):
        die(0, "disconnected after %d %d" % (n, size))
    except socket.timeout:
        die(6, "still connected after %d %d (the server stopped reading)" % (n, size))
    die(6, "still connected after %d %d" % (n, size))

def cmd_wait_gone(pid, secs):
    try:
        fd = os.pidfd_open(int(pid))
    except ProcessLookupError:
        return
    p = select.poll()
    p.register(fd, select.POLLIN)
    if not p.poll(float(secs) * 1000):
        die(1, "pid %s still there after %s s" % (pid, secs))

def recv_reply(s):
    """The next line that is not an event, and the fds that came while reading it."""
    buf, fds = b"", []
    while True:
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            j = json.loads(line)
            if "event" not in j:
                return j, fds
        data, got, _, _ = socket.recv_fds(s, 65536, 8)
        fds += got
        if not data:
            die(3, "EOF")
        buf += data

def shot(path):
    s = connect(path, timeout=30)
    greet(s)
    s.sendall(b'{"execute": "screenshot", "id": "shot"}\r\n')
    return recv_reply(s)

def describe(fd):
    import fcntl, stat
    st = os.fstat(fd)
    kind = "regular" if stat.S_ISREG(st.st_mode) else "fifo" if stat.S_ISFIFO(st.st_mode) else "other"
    try:
        seals = fcntl.fcntl(fd, 1034)  # F_GET_SEALS
    except OSError:
        seals = 0
    return "fd %s size=%d sealed=%s" % (kind, st.st_size, "yes" if seals & 8 else "no")  # F_SEAL_WRITE

def cmd_shot(path, out):
    reply, fds = shot(path)
    print(json.dumps(reply), flush=True)
    print("fds %d" % len(fds), flush=True)
    if fds:
        print(describe(fds[0]), flush=True)
        with open(out, "wb") as f:
            f.write(os.pread(fds[0], 1 << 20, 0))

def cmd_shot_late(path):
    reply, fds = shot(path)
    print(json.dumps(reply), flush=True)
    if not fds:
        die(8, "no fd")
    s = connect(path)
    r = greet(s)
    s.sendall(b'{"execute": "status", "id": 1}\r\n')
    print(reply_to(r, '{"id": 1}'), flush=True)
    print(os.pread(fds[0], 8, 0).hex(), flush=True)

def cmd_knock(path, n):
    greeted = refused = 0
    for _ in range(int(n)):
        s = connect(path)
        if Lines(s).next() is None:
            refused += 1
        else:
            greeted += 1
        s.close()
    print("greeted %d refused %d" % (greeted, refused), flush=True)

def cmd_hold(path, n):
    import signal
    held, away = [], 0
    for _ in range(int(n)):
        s = connect(path)
        r = Lines(s)
        g = r.next()
        if g is None or "QMP" not in g:
            away += 1
            s.close()
            continue
        s.sendall(b'{"execute": "status", "id": 1}\r\n')
        if reply_to(r, '{"id": 1}') is None:
            away += 1
            continue
        held.append(s)
    print("held %d turned away %d" % (len(held), away), flush=True)
    if not held:
        return
    def report(*_):
        gone = 0
        for s in held:
            s.setblocking(False)
            try:
                while True:
                    d = s.recv(65536)
                    if not d:
                        gone += 1
                        break
            except BlockingIOError:
                pass
            except OSError:
                gone += 1
        print("hung up %d" % gone, flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, report)
    while True:
        signal.pause()

def cmd_serve(path, mode):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(8)
    print("listening", flush=True)
    greeting = b'{"QMP": {"version": {"qemu": {"micro": 0, "minor": 1, "major": 0}, "package": "vgpuvm 0.1.0"}, "capabilities": []}}\r\n'
    while True:
        c, _ = srv.accept()
        c.settimeout(10)
        try:
            c.sendall(greeting)
            r = Lines(c)
            while True:
                l = r.next()
                if l is None:
                    break
                m = json.loads(l)
                out, fds = {"return": {}, "id": m.get("id")}, []
                if m.get("execute") == "status":
                    out["return"] = {"name": "evil", "state": "running"}
                elif m.get("execute") == "screenshot" and mode.startswith("file:"):
                    out["return"] = {"file": mode[5:]}
                elif m.get("execute") == "screenshot" and mode.startswith("fd:"):
                    fds = [os.open(mode[3:], os.O_RDONLY | os.O_NONBLOCK)]
                    out["return"] = {"size": 67, "format": "png"}
                data = json.dumps(out).encode() + b"\r\n"
                if fds:
                    socket.send_fds(c, [data], fds)
                    os.close(fds[0])
                else:
                    c.sendall(data)
        except OSError:
            pass
        c.close()

cmds = {"greeting": cmd_greeting, "exchange": cmd_exchange, "events": cmd_events, "stuck": cmd_stuck, "oversize": cmd_oversize,
        "flood": cmd_flood, "wait-gone": cmd_wait_gone, "shot": cmd_shot, "shot-late": cmd_shot_late, "knock": cmd_knock, "hold": cmd_hold,
        "serve": cmd_serve}
if len(sys.argv) < 2 or sys.argv[1] not in cmds:
    die(64, "usage: ctl " + "|".join(cmds) + " ARGS...")
cmds[sys.argv[1]](*sys.argv[2:])
PYEOF

ctl() {
	"$CTL_PYTHON" -c "$CTL_PY" "$@"
}

# The same for a client started in the background: "ctl_exec events SOCK > F &" makes $! the client's own pid (the
# subshell execs python), so that killing $! ends the client.
ctl_exec() {
	exec "$CTL_PYTHON" -c "$CTL_PY" "$@"
}

ctl_socket() {
	printf '%s/%s/control\n' "$VGPUVM_RUNTIME_DIR" "$(vm_name "$1")"
}
