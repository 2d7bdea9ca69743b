"""Helpers for the cellvm-broker tests: start the real broker on a temporary
socket and state directory, talk HTTP to it over the unix socket (optionally
as another uid, from a forked child), wait with bounds. Tests exit 0 pass,
1 fail, 77 skip.

Waits are for events (a reply, a state, a line in the log, a hang-up), each
bounded by DEADLINE, never a sleep followed by a check: the same tests run on
emulated KVM hosts about ten times slower than native, where only a generous
bound keeps a correct broker from failing."""
import http.client
import json
import os
import select
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77
# How long one wait may take before it fails the test (seconds). Generous: a
# wait that is met returns at once, so the bound only costs time on a failure.
DEADLINE = 60.0


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def skip(msg):
    print("SKIP: " + msg, file=sys.stderr)
    sys.exit(SKIP)


def need_root_kvm():
    if os.geteuid() != 0:
        skip("needs root (the broker is the privileged process)")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        skip("/dev/kvm not usable")


def have_tun():
    return os.path.exists("/dev/net/tun")


def private_netns():
    """Move this process (and the broker it starts) into a network namespace
    of its own: taps the broker creates for VMs never touch the host's
    network, and go with the namespace."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x40000000) != 0:  # CLONE_NEWNET
        fail("unshare(CLONE_NEWNET): %s" % os.strerror(ctypes.get_errno()))


def scratch_dir(prefix):
    """A new private directory where unix sockets can be created, for the
    broker's sockets, state directory and images. $TMPDIR when set, else a
    tmpfs (/dev/shm, /run: some tests make thousands of state writes, each
    with two fsyncs, and none tests durability), else the system's temporary
    directory. One that cannot hold sockets is passed over (an emulated KVM
    host shares /tmp over 9p)."""
    parents = [os.environ["TMPDIR"]] if os.environ.get("TMPDIR") else []
    parents += ["/dev/shm", "/run", tempfile.gettempdir()]
    for parent in parents:
        try:
            d = tempfile.mkdtemp(prefix=prefix, dir=parent)
        except OSError:
            continue
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.bind(os.path.join(d, "probe.sock"))
            os.unlink(os.path.join(d, "probe.sock"))
            return d
        except OSError:
            shutil.rmtree(d, ignore_errors=True)
        finally:
            s.close()
    fail("no directory can hold unix sockets (tried %s)" % ", ".join(parents))


def hung_up(s, timeout=0):
    """Whether the peer of a connected socket has closed it, seen without
    reading (what is queued stays queued); waits up to timeout seconds."""
    p = select.poll()
    p.register(s, select.POLLRDHUP | select.POLLHUP)
    return any(ev & (select.POLLRDHUP | select.POLLHUP | select.POLLERR)
               for _, ev in p.poll(timeout * 1000))


def proc_start(pid):
    """Start time of pid in clock ticks since boot (/proc/PID/stat field 22),
    as the broker records it in its state files."""
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(") ", 1)[1].split()[19])


def wait_until(pred, timeout=DEADLINE, what="condition"):
    """Poll pred() until true; bounded. Returns its value. what names the
    condition in the failure; a callable is asked then (to show a state)."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            fail("timed out waiting for " + (what() if callable(what) else what))
        time.sleep(0.02)


def check_result(text, name):
    """The result ("pass" or "fail") of the guest check NAME's closing line
    in TEXT, or None while that line is not there whole: the console can
    hold "CELLVM-CHECK gpu" before " pass status=0" has arrived."""
    m = re.search(r"CELLVM-CHECK %s (\w+) status=-?\d+[^\n]*\n" % re.escape(name), text)
    return m.group(1) if m else None


def unix_connect(path, timeout=DEADLINE, kind=socket.SOCK_STREAM):
    """Connect, waiting (bounded) while the listen backlog is full: a unix
    socket with a timeout fails with EAGAIN there instead of waiting."""
    end = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, kind)
        s.settimeout(timeout)
        try:
            s.connect(path)
            return s
        except BlockingIOError:
            s.close()
            if time.monotonic() > end:
                raise
            time.sleep(0.01)


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=DEADLINE):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = unix_connect(self.path, self.timeout)


class Broker:
    def __init__(self, bindir, config="", args=(), tmp=None, keep_state=None):
        self.bindir = bindir
        self.tmp = tmp or scratch_dir("cellvm-broker-")
        os.chmod(self.tmp, 0o755)  # other test uids reach the socket
        self.sock = os.path.join(self.tmp, "api.sock")
        self.rpc = os.path.join(self.tmp, "rpc.sock")
        self.state = keep_state or os.path.join(self.tmp, "state")
        self.conf = os.path.join(self.tmp, "broker.conf")
        with open(self.conf, "w") as f:
            f.write(config)
        self.args = list(args)
        # Tests run side by side: each broker's viewer listeners on ports of
        # their own rather than the defaults (6080, 5900).
        for opt in ("--viewer-listen", "--vnc-listen"):
            if opt not in self.args:
                self.args += [opt, "127.0.0.1:0"]
        self.log = os.path.join(self.tmp, "broker.log")
        self.proc = None

    def start(self):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [os.path.join(self.bindir, "cellvm-broker"), "--foreground",
             "--api-socket", self.sock, "--state-dir", self.state,
             "--rpc-socket", self.rpc, "--config", self.conf] + self.args,
            stdout=self.logf, stderr=subprocess.STDOUT, env=env)
        wait_until(self._answers, DEADLINE, "the broker to listen")
        return self

    def _answers(self):
        if self.proc.poll() is not None:
            fail("broker exited at start with %d:\n%s" % (self.proc.returncode, self.logtext()))
        try:
            return self.req("GET", "/vmm.ping")[0] == 200
        except OSError:
            return False

    def logtext(self):
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")

    def req(self, method, path, body=None, timeout=DEADLINE):
        """One request on a new connection: (status, parsed JSON or text)."""
        c = UnixHTTP(self.sock, timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            c.request(method, path, body=body)
            r = c.getresponse()
            data = r.read()
            if "json" not in (r.getheader("Content-Type") or ""):
                return r.status, data.decode(errors="replace")
            try:
                return r.status, json.loads(data)
            except ValueError:
                return r.status, data.decode(errors="replace")
        finally:
            c.close()

    def ok(self, method, path, body=None):
        st, b = self.req(method, path, body)
        if st != 200:
            fail("%s %s: %d %s" % (method, path, st, b))
        return b

    def stop(self, expect_clean=True):
        """PUT /vmm.shutdown, wait for the exit; a leak or crash fails."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.req("PUT", "/vmm.shutdown")
        except OSError:
            pass
        try:
            rc = self.proc.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("broker did not stop")
        if expect_clean and rc != 0:
            fail("broker exited with %d:\n%s" % (rc, self.logtext()))

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(DEADLINE)

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        # VMs outlive a killed broker (their keepers hold them): end what
        # its state files record, each process only while its start time
        # matches, so a failed test leaves nothing running.
        vms = os.path.join(self.state, "vms")
        for name in os.listdir(vms) if os.path.isdir(vms) else ():
            try:
                with open(os.path.join(vms, name)) as f:
                    procs = json.load(f).get("processes", [])
            except (OSError, ValueError):
                continue
            for p in procs:
                try:
                    if proc_start(p["pid"]) == p["start"]:
                        os.kill(p["pid"], signal.SIGKILL)
                except (OSError, KeyError, TypeError, ValueError, IndexError):
                    pass
        shutil.rmtree(self.tmp, ignore_errors=True)


def as_uid(uid, gid, fn):
    """Run fn() in a forked child with the given credentials; return its
    JSON-serialisable result."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            out = json.dumps(fn()).encode()
            os.write(w, out)
        except BaseException as e:  # report anything to the parent
            os.write(w, json.dumps({"exception": repr(e)}).encode())
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(data)


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def test_guest(paydir):
    """The test guest for a test that boots it (test/guest): (the kernel's
    directory, the test initramfs). Skips (77) without a test kernel or where
    guest user space cannot run on this machine's KVM; fails when the
    initramfs was not built. Also: the kernel command line's start for a
    check, cmdline(check, limit, extra)."""
    here = os.path.dirname(os.path.abspath(__file__))
    guest = os.path.realpath(os.environ.get("CELLVM_GUEST_DIR") or
                             os.path.join(here, "../../../shared/guest"))
    initrd = os.path.realpath(os.path.join(paydir, "../guest/test-initramfs.cpio.gz"))
    if not os.path.isfile(os.path.join(guest, "vmlinux")):
        skip("no test kernel in %s (set CELLVM_GUEST_DIR)" % guest)
    if not os.path.isfile(initrd):
        fail("the test initramfs %s was not built" % initrd)
    env = os.popen(os.path.join(here, "../../scripts/kvm-env.sh")).read().strip()
    if not env.startswith("native"):
        skip("guest user space cannot run on this machine's KVM: %s" % env)
    return guest, initrd


def png_decode(png_raw, png):
    """(width, height, RGB bytes) of PNG bytes, decoded by libspng through
    the png_raw helper (test/broker/png_raw.c)."""
    with tempfile.NamedTemporaryFile(suffix=".png") as f:
        f.write(png)
        f.flush()
        out = subprocess.run([png_raw, f.name], capture_output=True, check=False)
    if out.returncode != 0:
        fail("png_raw: %s" % out.stderr.decode(errors="replace"))
    head, _, pixels = out.stdout.partition(b"\n")
    w, h = (int(x) for x in head.split())
    if len(pixels) != w * h * 3:
        fail("png_raw: %d bytes for %dx%d" % (len(pixels), w, h))
    return w, h, pixels


def payload(paydir, name):
    p = os.path.abspath(os.path.join(paydir, name))
    if not os.path.exists(p):
        skip("payload %s missing" % p)
    return p


def connect_as(sockpath, uid, gid, groups=()):
    """A unix socket connected by a child running as uid/gid: the broker
    sees those credentials (SO_PEERCRED is taken at connect)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups(list(groups))
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            s.connect(sockpath)
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, st = os.waitpid(pid, 0)
    if st != 0:
        fail("connect as uid %d failed" % uid)
    return s


def http_on(s, method, path, body=b"", timeout=DEADLINE):
    """One request on a connected socket, Connection: close; (status, body)."""
    s.settimeout(timeout)
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    s.sendall(("%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n"
               % (method, path, len(body))).encode() + body)
    data = b""
    while True:
        c = s.recv(65536)
        if not c:
            break
        data += c
    s.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    parts = head.split(b" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise ConnectionError("%s %s: no HTTP answer (%d bytes: %r)"
                              % (method, path, len(data), data[:80]))
    status = int(parts[1])
    try:
        return status, json.loads(rest)
    except ValueError:
        return status, rest.decode(errors="replace")


# ---- sound: WAV files and the dominant frequency (no numpy here) ----

def wav_bytes(pcm, rate, channels, bits=16, fmt=1, data_size=None):
    """A canonical WAV (RIFF/WAVE, a 16-byte fmt chunk, a data chunk) of pcm
    bytes; fmt 1 is PCM, 3 IEEE float; data_size overrides the data chunk's
    size field (0xffffffff: a stream)."""
    import struct
    block = channels * bits // 8
    size = len(pcm) if data_size is None else data_size
    fmtc = struct.pack("<HHIIHH", fmt, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmtc + b"data" + \
        struct.pack("<I", size) + pcm
    return b"RIFF" + struct.pack("<I", len(body)) + body


def tone_s16(freq, rate, seconds, channels=1, amp=0.5):
    """A sine of freq Hz as interleaved little-endian int16 samples."""
    import array
    import math
    n = int(rate * seconds)
    a = array.array("h", (int(amp * 32767 * math.sin(2 * math.pi * freq * i / rate))
                          for i in range(n) for _ in range(channels)))
    if sys.byteorder != "little":
        a.byteswap()
    return a.tobytes()


def wav_parse(data):
    """(format, channels, rate, bits, data_size, pcm) of a WAV with a
    fmt and a data chunk (the broker's and cellctl's: canonical, or
    WAVE_FORMAT_EXTENSIBLE); fails on anything else."""
    import struct
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        fail("not a WAV: %r" % data[:16])
    i, fmt = 12, None
    while i + 8 <= len(data):
        cid, n = data[i:i + 4], struct.unpack_from("<I", data, i + 4)[0]
        if cid == b"fmt ":
            f, ch, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, i + 8)
            if f == 0xfffe:  # WAVE_FORMAT_EXTENSIBLE: the subformat's first two bytes
                f = struct.unpack_from("<H", data, i + 8 + 24)[0]
            fmt = (f, ch, rate, bits)
        elif cid == b"data":
            if not fmt:
                fail("WAV: data before fmt")
            return fmt + (n, data[i + 8:])
        i += 8 + n + (n & 1)
    fail("WAV without a data chunk: %r" % data[:80])


def pcm_mono(fmt, channels, bits, pcm):
    """The first channel of PCM as floats in -1..1 (int16, int32 or float32)."""
    import array
    code = {16: "h", 32: "f" if fmt == 3 else "i"}.get(bits)
    if not code:
        fail("PCM of %d bits: not read here" % bits)
    a = array.array(code)
    a.frombytes(pcm[:len(pcm) - len(pcm) % a.itemsize])
    if sys.byteorder != "little":
        a.byteswap()
    scale = 1.0 if code == "f" else float(1 << (bits - 1))
    return [v / scale for v in a[::channels]]


def goertzel(samples, rate, freq):
    """The power of freq Hz in samples (one DFT bin, the Goertzel way)."""
    import math
    w = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + w * s1 - s2, s1
    return s1 * s1 + s2 * s2 - w * s1 * s2


def dominant_freq(samples, rate, lo=100, hi=4000):
    """The strongest frequency in lo..hi Hz, to about 1 Hz: a coarse scan
    (20 Hz steps over 4096 samples), then 1 Hz steps around its best over
    up to half a second of samples."""
    if len(samples) < 4096:
        fail("%d samples: too few for a frequency" % len(samples))
    mid = len(samples) // 2
    short = samples[mid - 2048:mid + 2048]
    best = max(range(lo, hi + 1, 20), key=lambda f: goertzel(short, rate, f))
    long_ = samples[max(0, mid - rate // 4):mid + rate // 4]
    return max(range(max(lo, best - 25), best + 26), key=lambda f: goertzel(long_, rate, f))
