"""Headless Chromium driven over the DevTools protocol on a pipe
(--remote-debugging-pipe: commands on its fd 3, replies and events on its
fd 4, each a JSON message ended by a NUL), for the browser viewer's test: no
WebSocket client needed. One page, attached flat (messages carry its
sessionId)."""
import fcntl
import json
import os
import select
import shutil
import subprocess
import time


class CdpError(Exception):
    pass


class Chromium:
    def __init__(self, profile, width=1280, height=1024):
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if not exe:
            raise FileNotFoundError("chromium")
        cmd_r, self.cmd_w = os.pipe()
        self.out_r, out_w = os.pipe()
        # The child's ends above 10, then onto fds 3 and 4 by bash's
        # redirections (the wrapper script /usr/bin/chromium keeps them).
        hi_r, hi_w = fcntl.fcntl(cmd_r, fcntl.F_DUPFD_CLOEXEC, 10), \
            fcntl.fcntl(out_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(cmd_r)
        os.close(out_w)
        cmd_r, out_w = hi_r, hi_w
        argv = ["bash", "-c", 'exec "$0" "$@" 3<&%d 4>&%d %d<&- %d>&-' % (cmd_r, out_w, cmd_r, out_w),
                exe, "--headless=new", "--no-sandbox", "--disable-gpu",
                "--remote-debugging-pipe", "--user-data-dir=" + profile, "--no-first-run",
                "--disable-extensions", "--disable-background-networking",
                "--window-size=%d,%d" % (width, height), "about:blank"]
        os.makedirs(profile, exist_ok=True)
        self.log = os.path.join(profile, "chromium.log")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(argv, pass_fds=(cmd_r, out_w), stdout=log, stderr=log)
        os.close(cmd_r)
        os.close(out_w)
        self.buf = b""
        self.next_id = 0
        self.session = None

    def _read_message(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.out_r], [], [], left)[0]:
                raise CdpError("no answer from chromium in time")
            chunk = os.read(self.out_r, 1 << 20)
            if not chunk:
                raise CdpError("chromium closed its pipe (exit %r): %s" %
                               (self.proc.poll(), self.log_tail()))
            self.buf += chunk
        msg, _, self.buf = self.buf.partition(b"\0")
        return json.loads(msg)

    def call(self, method, params=None, timeout=60, page=True):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if page and self.session:
            msg["sessionId"] = self.session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise CdpError("%s: %s" % (method, m["error"]))
                return m.get("result", {})

    def open(self, url, timeout=120):
        """A new page at url, attached: later calls go to it."""
        target = self.call("Target.createTarget", {"url": url}, timeout, page=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 timeout, page=False)["sessionId"]

    def eval(self, expression, timeout=60):
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                           "awaitPromise": True}, timeout)
        if "exceptionDetails" in r:
            raise CdpError("%s: %s" % (expression[:60], r["exceptionDetails"]))
        return r["result"].get("value")

    def log_tail(self, n=2000):
        """The end of chromium's own output, without its D-Bus complaints."""
        with open(self.log, "rb") as f:
            lines = f.read().decode(errors="replace").splitlines()
        return "\n".join(l for l in lines if "dbus" not in l)[-n:]

    def close(self):
        try:
            os.close(self.cmd_w)
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.out_r)
