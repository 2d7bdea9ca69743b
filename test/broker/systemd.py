#!/usr/bin/env python3
"""cellvm-broker under systemd's protocols, without systemd as PID 1:
`systemd-analyze verify` on the units; socket activation with the listening
socket on fd 3 and LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES as systemd passes them;
sd_notify READY/STATUS, WATCHDOG pings and STOPPING on a NOTIFY_SOCKET we own.
The watchdog is checked as behaviour (pings keep coming while the broker
runs), not by their period, which a slow host cannot promise.
Usage: systemd.py BINDIR PAYLOADDIR SRCDIR"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import DEADLINE, UnixHTTP, fail, scratch_dir, skip

bindir, paydir, srcdir = sys.argv[1], sys.argv[2], sys.argv[3]
if os.geteuid() != 0:
    skip("needs root")
broker = os.path.abspath(os.path.join(bindir, "cellvm-broker"))
tmp = scratch_dir("cellvm-systemd-")
p = None
try:
    # 1. the units
    unverified = False
    units = os.path.join(srcdir, "packaging", "systemd")
    if shutil.which("systemd-analyze"):
        for u in ("cellvm-broker.service", "cellvm-broker.socket", "cellvm-broker-rpc.socket"):
            with open(os.path.join(units, u)) as f:
                text = f.read().replace("/usr/local/sbin/cellvm-broker", broker)
            with open(os.path.join(tmp, u), "w") as f:
                f.write(text)
        r = subprocess.run(["systemd-analyze", "verify", "--man=no",
                            os.path.join(tmp, "cellvm-broker.socket"),
                            os.path.join(tmp, "cellvm-broker-rpc.socket"),
                            os.path.join(tmp, "cellvm-broker.service")],
                           capture_output=True, text=True)
        if r.returncode != 0 or r.stderr.strip():
            fail("systemd-analyze verify: %d %s" % (r.returncode, r.stderr))
    else:
        unverified = True  # reported as a skip at the end, never as a pass

    # 2. socket activation + notify
    api = os.path.join(tmp, "activated.sock")
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(api)
    lsock.listen(16)
    rpc = os.path.join(tmp, "activated-rpc.sock")
    rsock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    rsock.bind(rpc)
    rsock.listen(16)
    nsock_path = os.path.join(tmp, "notify.sock")
    nsock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    nsock.bind(nsock_path)
    nsock.settimeout(DEADLINE)
    env = dict(os.environ, NOTIFY_SOCKET=nsock_path, WATCHDOG_USEC="200000",
               LISTEN_FDS="2", LISTEN_FDNAMES="api:rpc")
    never = os.path.join(tmp, "not-this.sock")

    # The sockets on fds 3 and 4; LISTEN_PID must be the broker's own pid:
    # both set by a small wrapper that execs it.
    n, m = lsock.fileno(), rsock.fileno()
    wrap = ("import os, sys; a, r = os.dup(%d), os.dup(%d)\n"
            "os.dup2(a, 3); os.dup2(r, 4)\n"
            "os.set_inheritable(3, True); os.set_inheritable(4, True)\n"
            "os.closerange(5, 1024)\n"
            "os.environ['LISTEN_PID'] = str(os.getpid()); os.execv(sys.argv[1], sys.argv[1:])"
            % (n, m))
    p = subprocess.Popen([sys.executable, "-c", wrap, broker,
                          "--foreground", "--api-socket", never,
                          "--rpc-socket", os.path.join(tmp, "rpc.sock"),
                          "--state-dir", os.path.join(tmp, "state"),
                          "--config", os.path.join(tmp, "none.conf")],
                         env=env, pass_fds=(n, m),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    msgs = []

    def got(prefix):
        while not any(m.startswith(prefix) or ("\n" + prefix) in m for m in msgs):
            try:
                msgs.append(nsock.recv(4096).decode())
            except socket.timeout:
                fail("no %s within %d s; got %r" % (prefix, DEADLINE, msgs))
        return True
    got("READY=1")
    if not any("STATUS=" in m for m in msgs):
        fail("no STATUS with READY: %r" % msgs)
    # the API answers on the socket systemd passed, not on --api-socket
    c = UnixHTTP(api)
    try:
        c.request("GET", "/vmm.ping")
        if c.getresponse().status != 200:
            raise OSError("bad status")
    except OSError as e:
        p.kill()
        fail("no answer on the activated socket (%r):\n%s" % (e, p.communicate()[0].decode()))
    c.close()
    r = subprocess.run([os.path.join(bindir, "cellctl"), "--socket", rpc, "ping"],
                       capture_output=True, timeout=DEADLINE)
    if r.returncode != 0 or b"tenant root" not in r.stdout:
        fail("no answer on the activated RPC socket: %r" % r)
    if os.path.exists(never) or os.path.exists(os.path.join(tmp, "rpc.sock")):
        fail("the broker bound --api-socket despite socket activation")
    # watchdog pings keep coming (a few, each within the bound); their
    # period (half of WATCHDOG_USEC) is printed, not asserted
    t0 = time.monotonic()
    wd = 0
    while wd < 5:
        try:
            m = nsock.recv(4096).decode()
        except socket.timeout:
            fail("no WATCHDOG=1 within %d s (%d so far)" % (DEADLINE, wd))
        wd += m.count("WATCHDOG=1")
    print("watchdog: %d pings in %.2f s (WATCHDOG_USEC 200000)" % (wd, time.monotonic() - t0))
    p.send_signal(signal.SIGTERM)
    got("STOPPING=1")
    out = p.communicate(timeout=DEADLINE)[0].decode()
    if p.returncode != 0:
        fail("exit %d after SIGTERM:\n%s" % (p.returncode, out))
    if unverified:
        skip("systemd-analyze not installed: the units were not verified "
             "(socket activation and notify passed)")
    print("PASS")
finally:
    if p and p.poll() is None:
        p.kill()
        p.wait()
    shutil.rmtree(tmp, ignore_errors=True)
