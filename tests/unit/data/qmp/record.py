#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Records raw QMP transcripts from a real qemu-system-x86_64 for the qmp/ unit tests.

The QMP socket is one end of a socketpair passed to QEMU by fd, as vgpuvm does. For every step the bytes QEMU sends
(greeting, replies, events, with their "\r\n") are written unchanged to <step>.raw; the whole stream of one QEMU run
also goes to session-<name>.raw. Commands carry integer ids counting from 1, as qmp_client sends them.

Usage: tests/unit/data/qmp/record.py [output-dir]
"""

import json
import os
import socket
import subprocess
import sys
import time

QEMU = os.environ.get("QEMU", "qemu-system-x86_64")


def start(extra):
    a, b = socket.socketpair()
    argv = [QEMU, "-accel", "tcg", "-nodefaults", "-display", "none", "-m", "64",
            "-chardev", "socket,id=qmp,fd=%d" % b.fileno(), "-mon", "chardev=qmp,mode=control"] + extra
    p = subprocess.Popen(argv, pass_fds=[b.fileno()])
    b.close()
    return p, a


def read_until(sock, done, settle):
    """Reads until done(messages) holds, then keeps reading for settle seconds to catch trailing events."""
    data = b""
    end = None
    while True:
        timeout = 10.0 if end is None else max(0.0, end - time.monotonic())
        sock.settimeout(timeout if timeout > 0 else 0.001)
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, BlockingIOError):
            if end is not None:
                return data
            raise
        except ConnectionResetError:
            # QEMU may close the socket after quit with our bytes unread; that is the end of the stream.
            return data
        if not chunk:
            return data
        data += chunk
        msgs = [json.loads(line) for line in data.split(b"\r\n") if line.strip()]
        if end is None and done(msgs):
            end = time.monotonic() + settle
            if settle == 0:
                return data


class Session:
    def __init__(self, outdir, name, extra):
        self.outdir = outdir
        self.name = name
        self.proc, self.sock = start(extra)
        self.stream = b""
        self.next_id = 1

    def save(self, step, data):
        with open(os.path.join(self.outdir, step + ".raw"), "wb") as f:
            f.write(data)
        self.stream += data

    def greeting(self, step):
        self.save(step, read_until(self.sock, lambda m: any("QMP" in x for x in m), 0))

    def command(self, step, execute, arguments=None, want_events=(), settle=0.3):
        cmd_id = self.next_id
        self.next_id += 1
        cmd = {"execute": execute, "id": cmd_id}
        if arguments is not None:
            cmd["arguments"] = arguments
        self.sock.sendall(json.dumps(cmd).encode() + b"\r\n")

        def done(msgs):
            replied = any(x.get("id") == cmd_id for x in msgs)
            events = {x.get("event") for x in msgs}
            return replied and all(e in events for e in want_events)

        self.save(step, read_until(self.sock, done, settle))

    def finish(self):
        with open(os.path.join(self.outdir, "session-%s.raw" % self.name), "wb") as f:
            f.write(self.stream)
        self.sock.close()
        self.proc.wait(timeout=10)


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))

    s = Session(outdir, "running", [])
    s.greeting("greeting")
    s.command("capabilities", "qmp_capabilities")
    s.command("query-status-running", "query-status")
    s.command("command-not-found", "no-such-command")
    s.command("bad-arguments", "query-status", {"bogus": 1})
    s.command("stop", "stop", want_events=("STOP",))
    s.command("cont", "cont", want_events=("RESUME",))
    s.command("system-reset", "system_reset", want_events=("RESET",))
    s.command("system-powerdown", "system_powerdown", want_events=("POWERDOWN",))
    # QEMU may close the socket right after quit, so no settle time is needed beyond EOF.
    s.command("quit", "quit", want_events=("SHUTDOWN",), settle=1.0)
    s.finish()

    s = Session(outdir, "prelaunch", ["-S"])
    s.greeting("greeting-prelaunch")
    s.command("capabilities-prelaunch", "qmp_capabilities")
    s.command("query-status-prelaunch", "query-status")
    s.command("quit-prelaunch", "quit", want_events=("SHUTDOWN",), settle=1.0)
    s.finish()


if __name__ == "__main__":
    main()
