# The control socket under load (load.bats): CLIENTS misbehaving clients at once for SECS seconds, while a probe runs
# `VGPUVM status NAME` every 50 ms and measures how long each answer takes. Misbehaviours, one per client in turn:
#   garbage   lines that are not JSON, not QMP, NaN and huge timeouts, names with NUL, bytes that are not UTF-8
#   stall     half a command, then nothing (neither the rest nor a read) until the end
#   flood     status commands without ever reading the replies, until the server hangs up; then again
#   churn     connect and hang up at once, over and over
#   oversize  a line longer than the 64 KiB limit, without its newline; then again
# Usage: ctl_load.py SOCKET CLIENTS SECS VGPUVM NAME; prints "probe: N answers, M failures, max X ms, p99 Y ms" and the kinds'
# counters, one line each. Every socket operation has a deadline, so that nothing here can hang the test.
import json, os, socket, struct, subprocess, sys, threading, time

path, n_clients, secs, vgpuvm, name = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
end = time.monotonic() + secs
counts = {}
lock = threading.Lock()

def count(key, n=1):
    with lock:
        counts[key] = counts.get(key, 0) + n

def connect(timeout=2.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # A blocking connect waits in the server's backlog, as vgpuvm's own client does; SO_SNDTIMEO bounds the wait.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", int(timeout), 0))
    s.connect(path)
    s.settimeout(timeout)
    return s

GARBAGE = [b"garbage\r\n", b"{\r\n", b"[]\r\n", b"{\"id\": 5}\r\n", b"\xff\xfe\r\n", b"\xc0\xaf\r\n",
           b"{\"execute\": \"status\\u0000x\", \"id\": 1}\r\n",
           b"{\"execute\": \"stop\", \"arguments\": {\"timeout\": NaN}, \"id\": 2}\r\n",
           b"{\"execute\": \"stop\", \"arguments\": {\"timeout\": 1e300}, \"id\": 3}\r\n",
           b"{\"execute\": \"qmp\", \"arguments\": {\"command\": \"qmp_capabilities\"}}\r\n",
           b"{\"execute\": \"nonsense\"}\r\n", b"{\"return\": {}}\r\n", b"\r\n" * 50]

def garbage(s):
    s.settimeout(0.2)
    i = 0
    while time.monotonic() < end:
        s.sendall(GARBAGE[i % len(GARBAGE)])
        i += 1
        try:
            if not s.recv(65536):
                return "hung up"
        except socket.timeout:
            pass
    return "done"

def stall(s):
    s.sendall(b"{\"execute\": \"sta")
    while time.monotonic() < end:
        time.sleep(0.05)
    return "done"

def flood(s):
    s.setblocking(False)
    line = b"{\"execute\": \"status\"}\r\n" * 64
    while time.monotonic() < end:
        try:
            s.send(line)
        except BlockingIOError:
            time.sleep(0.01)
        except (BrokenPipeError, ConnectionResetError):
            return "hung up"
    return "done"

def churn(s):
    return "done"

def oversize(s):
    s.settimeout(2.0)
    try:
        s.sendall(b"x" * (70 * 1024))
        while s.recv(65536):
            pass
    except (socket.timeout, BrokenPipeError, ConnectionResetError):
        pass
    return "hung up"

KINDS = [garbage, stall, flood, churn, oversize]

def client(k):
    kind = KINDS[k % len(KINDS)]
    while time.monotonic() < end:
        try:
            s = connect()
        except OSError:
            count(kind.__name__ + " connect failed")
            time.sleep(0.05)
            continue
        try:
            count(kind.__name__ + " " + kind(s))
        except OSError:
            count(kind.__name__ + " reset")
        finally:
            s.close()
        if kind is churn:
            time.sleep(0.005)

latencies, failures = [], []

def probe():
    """vgpuvm's own client, `vgpuvm status NAME`, as a person would run it; a failure is its exit status."""
    while time.monotonic() < end:
        t0 = time.monotonic()
        r = subprocess.run([vgpuvm, "status", name], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=20)
        if r.returncode == 0:
            latencies.append((time.monotonic() - t0) * 1000)
        else:
            failures.append("exit %d: %s" % (r.returncode, r.stderr.decode(errors="replace").strip()))
        time.sleep(0.05)

threads = [threading.Thread(target=client, args=(k,)) for k in range(n_clients)]
threads.append(threading.Thread(target=probe))
for t in threads:
    t.start()
for t in threads:
    t.join(secs + 10)
lat = sorted(latencies)
p99 = lat[int(len(lat) * 0.99) - 1] if lat else -1
print("probe: %d answers, %d failures, max %.0f ms, p99 %.0f ms" % (len(lat), len(failures), lat[-1] if lat else -1, p99))
for f in sorted(set(failures)):
    print("probe failure: %s (%d times)" % (f, failures.count(f)))
for k in sorted(counts):
    print("%s: %d" % (k, counts[k]))
