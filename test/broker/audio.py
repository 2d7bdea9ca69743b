#!/usr/bin/env python3
"""Sound through the real broker, on the test guest: a VM with a sound card
(snd: one playback and one capture stream, the ring) and a gpu boots the
test kernel with the snd check (test/guest/snd.c, checks/snd.sh). Then:
- refusals: the audio routes of a VM that is not running (409 VM_BUSY), of
  a VM without snd (409 NOT_SUPPORTED; RPC AudioCapture and AudioInput
  NOT_SUPPORTED), of another tenant's VM (404), a bad query, a body that is
  not a WAV (400); cellctl play-audio of a file that is no WAV;
- the guest plays a 440 Hz sine for a second; four readers subscribed
  before it does record it: cellctl record-audio --seconds 1 (RPC
  AudioCapture, a WAV file), a reader of our own over RPC AudioCapture
  (the ring read-only and an eventfd: proto/audio_ring.h), GET
  /vm/{id}/audio?seconds=1 (a WAV stream) and cellctl record-audio without
  --seconds, stopped by SIGINT; each has the dominant frequency 440 Hz
  +-5 Hz and the expected length; every period's timestamp_ns is a
  CLOCK_MONOTONIC value inside this test's time.monotonic() window around
  the playing, on the clock of the gpu's frame ring (a Capture's latest
  frame, read at the same time, lies between the boot and now);
- 16 audio readers per VM, the 17th QUOTA_EXCEEDED, a place freed when a
  reader's connection closes;
- POST /vm/{id}/audio-input of a short WAV: 204; then cellctl play-audio
  of a 1000 Hz WAV while the guest records two seconds: the guest reports
  a dominant frequency of 1000 Hz +-10 Hz;
- when the guest powers off, a GET audio stream ends with its last chunk
  and cellctl record-audio ends (its RPC reader's connection is closed).
Usage: audio.py BINDIR PAYLOADDIR"""
import json
import mmap
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import (DEADLINE, Broker, connect_as, dominant_freq, fail, http_on,  # noqa: E402
                        need_root_kvm, payload, pcm_mono, test_guest, tone_s16, unix_connect,
                        wait_until, wav_bytes, wav_parse)

bindir, paydir = sys.argv[1], sys.argv[2]
need_root_kvm()
guest, initrd = test_guest(paydir)

CELLCTL = os.path.join(bindir, "cellctl")
PLAY_HZ, PUSH_HZ, RATE = 440, 1000, 48000
tmp = tempfile.mkdtemp(prefix="cellvm-audio-")


def varint(v):
    out = bytearray()
    while True:
        out.append((v & 0x7f) | (0x80 if v > 0x7f else 0))
        v >>= 7
        if not v:
            return bytes(out)


def fields(msg):
    """The fields of a protobuf message: {number: value} (varints as ints,
    length-delimited as bytes)."""
    out, i = {}, 0
    while i < len(msg):
        key, shift = 0, 0
        while True:
            key |= (msg[i] & 0x7f) << shift
            shift += 7
            i += 1
            if not msg[i - 1] & 0x80:
                break
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, shift = 0, 0
            while True:
                v |= (msg[i] & 0x7f) << shift
                shift += 7
                i += 1
                if not msg[i - 1] & 0x80:
                    break
        elif wire == 2:
            n, shift = 0, 0
            while True:
                n |= (msg[i] & 0x7f) << shift
                shift += 7
                i += 1
                if not msg[i - 1] & 0x80:
                    break
            v = msg[i:i + n]
            i += n
        else:
            fail("protobuf wire type %d in %r" % (wire, msg))
        out[num] = v
    return out


def rpc_request(b, field, vm_id, nfds):
    """Send Request.<field> {vm_id = 1} on a new RPC connection: (socket,
    the Response's fields, fds). proto/api.proto: Request.capture = 17,
    audio_capture = 20, audio_input = 21."""
    s = unix_connect(b.rpc, kind=socket.SOCK_SEQPACKET)
    inner = b"\x0a" + varint(len(vm_id)) + vm_id.encode()
    s.sendall(varint(field << 3 | 2) + varint(len(inner)) + inner)
    msg, fds, _, _ = socket.recv_fds(s, 65536, 4)
    return s, fields(msg), fds


class AudioRing:
    """A reader of the audio ring (proto/audio_ring.h) and its eventfd."""
    HDR = "<IIIIQQIIQQ"
    PERIOD = "<QQQQIIIIII"

    def __init__(self, ring_fd, efd, size):
        self.map = mmap.mmap(ring_fd, size, mmap.MAP_SHARED, mmap.PROT_READ)
        self.efd = efd
        os.set_blocking(efd, False)
        h = self.header()
        self.next = h["serial"] + 1

    def header(self):
        h = struct.unpack_from(self.HDR, self.map, 0)
        if h[0] != 0x44554156 or h[1] != 1:
            fail("the audio ring's header is not a version 1 ring: %r" % (h[:2],))
        return dict(nperiods=h[3], slot_size=h[4], slots_offset=h[5], period_bytes=h[6],
                    nstreams=h[7], serial=h[8])

    def read(self):
        """The periods published since the last call: [(meta, pcm)], and
        how many were lost (overwritten before they were read)."""
        h = self.header()
        out, lost = [], 0
        oldest = max(1, h["serial"] + 2 - h["nperiods"])
        if self.next < oldest:
            lost += oldest - self.next
            self.next = oldest
        while self.next <= h["serial"]:
            base = h["slots_offset"] + (self.next % h["nperiods"]) * h["slot_size"]
            f = struct.unpack_from(self.PERIOD, self.map, base)
            meta = dict(seq=f[0], serial=f[1], ts=f[2], position=f[3], stream=f[4],
                        format=f[5], rate=f[6], channels=f[7], bytes=f[8], flags=f[9])
            pcm = self.map[base + 64:base + 64 + min(meta["bytes"], h["period_bytes"])]
            if meta["seq"] != 2 * self.next or struct.unpack_from("<Q", self.map, base)[0] != \
                    meta["seq"]:
                lost += 1
            else:
                out.append((meta, pcm))
            self.next += 1
        return out, lost

    def wait(self, deadline):
        left = deadline - time.monotonic()
        if left > 0 and select.select([self.efd], [], [], left)[0]:
            try:
                os.read(self.efd, 8)
            except BlockingIOError:
                pass


def audio_capture(b, vid):
    """RPC AudioCapture: (socket, AudioRing, AudioCaptureStarted fields), or
    (socket, None, the Error's fields)."""
    s, f, fds = rpc_request(b, 20, vid, 2)
    if 16 not in f:
        for fd in fds:
            os.close(fd)
        return s, None, fields(f.get(2, b""))
    st = fields(f[16])
    if len(fds) != 2 or not st.get(1):
        fail("AudioCapture: %d fds, %r" % (len(fds), st))
    ring = AudioRing(fds[0], fds[1], st[1])
    os.close(fds[0])
    return s, ring, st


def frame_ts(b, vid):
    """The timestamp_ns of the latest frame in the gpu's capture ring (RPC
    Capture, read once), or None (no frame yet)."""
    s, f, fds = rpc_request(b, 17, vid, 2)
    try:
        if 13 not in f or len(fds) != 2:
            fail("Capture: %r" % f)
        size = fields(f[13])[1]
        m = mmap.mmap(fds[0], size, mmap.MAP_SHARED, mmap.PROT_READ)
        h = struct.unpack_from("<IIIIQQIIIIQQ", m, 0)
        serial, nslots, slot_size, slots_offset = h[10], h[3], h[4], h[5]
        if serial == 0:
            return None
        base = slots_offset + (serial % nslots) * slot_size
        seq, ser, ts = struct.unpack_from("<QQQ", m, base)
        return ts if seq == 2 * serial and ser == serial else None
    finally:
        for fd in fds:
            os.close(fd)
        s.close()


def get_raw(b, path):
    """GET path on a new connection: the socket, once the status line and
    headers are in (status, headers dict, body bytes so far)."""
    s = unix_connect(b.sock)
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        c = s.recv(65536)
        if not c:
            fail("GET %s: closed before its headers: %r" % (path, buf))
        buf += c
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    hdrs = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return s, int(lines[0].split()[1]), hdrs, rest


def dechunk(raw):
    """The payload of a chunked body so far, and whether its last chunk came."""
    out = b""
    while True:
        line, sep, rest = raw.partition(b"\r\n")
        if not sep:
            return out, False
        n = int(line, 16)
        if n == 0:
            return out, True
        if len(rest) < n + 2:
            return out, False
        out += rest[:n]
        raw = rest[n + 2:]


def check_tone(what, data, frames=None):
    """A WAV (bytes) of the 440 Hz sine: 48000 Hz S16 stereo, frames of it
    (or about a second), the dominant frequency PLAY_HZ +-5 Hz."""
    fmt, ch, rate, bits, size, pcm = wav_parse(data)
    if (fmt, rate, bits) != (1, RATE, 16) or ch < 1:
        fail("%s: a WAV of format %d, %d Hz, %d bits, %d channels" % (what, fmt, rate, bits, ch))
    n = len(pcm) // (ch * bits // 8)
    if frames is not None and (n != frames or size != len(pcm)):
        fail("%s: %d frames (data size %d), expected exactly %d" % (what, n, size, frames))
    if frames is None and not 0.9 * RATE <= n <= 1.2 * RATE:
        fail("%s: %d frames, not about a second" % (what, n))
    freq = dominant_freq(pcm_mono(fmt, ch, bits, pcm), rate)
    if abs(freq - PLAY_HZ) > 5:
        fail("%s: the dominant frequency is %d Hz, not %d" % (what, freq, PLAY_HZ))
    print("%s: %d frames, %d Hz" % (what, n, freq))


b = Broker(bindir, "[tenant other]\nuid = 1003\n")
try:
    b.start()
    cmdline = "console=ttyS0 panic=-1 quiet rdinit=/init cellvm.limit=600 cellvm.check=snd"
    if os.environ.get("CELLVM_KVM_HOST") == "emulated":
        cmdline += " noapictimer"  # test/integration/lib.sh says why
    vid = b.ok("POST", "/vm.create", {
        "kernel": os.path.join(guest, "vmlinux"), "initrd": initrd, "memory": "256M",
        "cmdline": cmdline, "snd": {"playback": 1, "capture": 1},
        "gpu": {"scanouts": [{"width": 640, "height": 480}]}})["vm_id"]
    bare = b.ok("POST", "/vm.create", {"kernel": payload(paydir, "serial_irq.elf")})["vm_id"]
    cfg = b.ok("GET", "/vm/" + vid)["config"]
    if cfg.get("snd") != {"playback": 1, "capture": 1, "sink": "ring"}:
        fail("the definition does not keep the snd: %r" % cfg)
    good_wav = wav_bytes(tone_s16(500, 8000, 1.0), 8000, 1)

    # Refusals before the boot, and on a VM without snd.
    for path, body, st, code in (
            ("/vm/%s/audio" % vid, None, 409, "VM_BUSY"),
            ("/vm/%s/audio-input" % vid, good_wav, 409, "VM_BUSY"),
            ("/vm/%s/audio" % bare, None, 409, "NOT_SUPPORTED"),
            ("/vm/%s/audio-input" % bare, good_wav, 409, "NOT_SUPPORTED"),
            ("/vm/%s/audio?stream=1" % vid, None, 400, "INVALID_ARGUMENT"),
            ("/vm/%s/audio?seconds=0" % vid, None, 400, "INVALID_ARGUMENT"),
            ("/vm/%s/audio-input" % vid, b"RIFF\0\0\0\0WAVEjunk", 400, "INVALID_ARGUMENT")):
        got, r = b.req("POST" if body is not None else "GET", path, body)
        if got != st or not isinstance(r, dict) or r.get("code") != code:
            fail("%s: %d %r, expected %d %s" % (path, got, r, st, code))

    # Another tenant's VM is not found, whatever the body.
    for m, path, body in (("GET", "/vm/%s/audio" % vid, b""),
                          ("POST", "/vm/%s/audio-input" % vid, good_wav)):
        got, r = http_on(connect_as(b.sock, 1003, 1003), m, path, body)
        if got != 404 or r.get("code") != "VM_NOT_FOUND":
            fail("another tenant's %s %s: %d %r" % (m, path, got, r))

    t_boot = time.monotonic_ns()
    b.ok("PUT", "/vm/%s/boot" % bare)
    b.ok("PUT", "/vm/%s/boot" % vid)
    con = lambda: b.ok("GET", "/vm/%s/console" % vid)  # noqa: E731
    wait_until(lambda: "CELLVM-SND ready" in con(), 300, "the guest's snd check")
    devs = [d["kind"] for d in b.ok("GET", "/vm/" + vid)["devices"]]
    if "snd" not in devs:
        fail("no snd device: %r" % devs)
    got, r = b.req("GET", "/vm/%s/audio" % bare)
    if got != 409 or r.get("code") != "NOT_SUPPORTED":
        fail("audio of a running VM without snd: %d %r" % (got, r))
    # The same over RPC (Response.error = 2, Error.code = 1), and cellctl
    # refusing a file that is no WAV before it asks the broker.
    for field in (20, 21):
        s, f, fds = rpc_request(b, field, bare, 0)
        s.close()
        if fds or fields(f.get(2, b"")).get(1) != b"NOT_SUPPORTED":
            fail("RPC request %d on a VM without snd: %r" % (field, f))
    junk = os.path.join(tmp, "junk.wav")
    with open(junk, "wb") as f:
        f.write(b"RIFF\0\0\0\0WAVEfmt \x10\0\0\0" + b"\0" * 16)
    r = subprocess.run([CELLCTL, "--socket", b.rpc, "play-audio", vid, junk], capture_output=True,
                       text=True)
    if r.returncode != 1 or "not a WAV" not in r.stderr:
        fail("cellctl play-audio of junk: %d %r" % (r.returncode, r.stderr))

    # Four readers, each subscribed before the guest plays.
    def rpc_lines():
        return b.logtext().count("audio-capture vm=%s -> OK" % vid)
    before = rpc_lines()
    rec1 = os.path.join(tmp, "rec1.wav")
    rec2 = os.path.join(tmp, "rec2.wav")
    c1 = subprocess.Popen([CELLCTL, "--socket", b.rpc, "--json", "record-audio", vid, "-o", rec1,
                           "--seconds", "1"], stdout=subprocess.PIPE, text=True)
    c2 = subprocess.Popen([CELLCTL, "--socket", b.rpc, "record-audio", vid, "-o", rec2],
                          stdout=subprocess.PIPE, text=True)
    wait_until(lambda: rpc_lines() >= before + 2, what="cellctl's audio readers")
    sock, ring, started = audio_capture(b, vid)
    if ring is None:
        fail("AudioCapture: %r" % started)
    if started.get(2) != 1 or started.get(3) != 1:
        fail("AudioCaptureStarted: %r" % started)
    ws, st, hdrs, wbody = get_raw(b, "/vm/%s/audio?seconds=1" % vid)
    if st != 200 or hdrs.get("content-type") != "audio/wav":
        fail("GET audio: %d %r" % (st, hdrs))

    t0 = time.monotonic_ns()
    b.ok("PUT", "/vm/%s/console" % vid, "play\n")
    # The whole line: the console may hold half of it yet.
    done_re = re.compile(r"CELLVM-SND played frames=\d+ xruns=\d+")
    wait_until(lambda: done_re.search(con()), 300, "the guest's playing")
    played = done_re.search(con()).group(0)
    print("guest: " + played)
    # A guest that underran (slow emulated hosts) may have played less than
    # a second: the readers limited to one would wait on.
    words = dict(w.split("=", 1) for w in played.split() if "=" in w)
    clean = words.get("xruns") == "0" and int(words.get("frames", 0)) >= RATE

    # Our reader: every period so far (the guest drained: all are out).
    periods, lost = [], 0
    deadline = time.monotonic() + DEADLINE
    while sum(len(p) for m, p in periods) < 0.9 * RATE * 4 and time.monotonic() < deadline:
        got, n = ring.read()
        periods += got
        lost += n
        if not got:
            ring.wait(deadline)
    t1 = time.monotonic_ns()
    fts = frame_ts(b, vid)
    t_now = time.monotonic_ns()
    if not periods:
        fail("the RPC reader saw no period")
    for m, p in periods:
        if not t0 <= m["ts"] <= t1:
            fail("period %d: timestamp_ns %d outside this test's monotonic window %d..%d"
                 % (m["serial"], m["ts"], t0, t1))
        if (m["stream"], m["format"], m["rate"], m["channels"]) != (0, 5, RATE, 2):
            fail("period %r" % m)
    if fts is None or not t_boot <= fts <= t_now:
        fail("the frame ring's latest timestamp %r is not between the boot (%d) and now (%d)"
             % (fts, t_boot, t_now))
    print("frame ring: latest frame at %.3f s after the boot; audio periods %.3f..%.3f s"
          % ((fts - t_boot) / 1e9, (periods[0][0]["ts"] - t_boot) / 1e9,
             (periods[-1][0]["ts"] - t_boot) / 1e9))
    if lost:
        fail("the RPC reader lost %d periods" % lost)
    if not periods[0][0]["flags"] & 1 or periods[0][0]["position"] != 0:
        fail("the first period is not the stream's start: %r" % periods[0][0])
    # The tone in the longest run of periods without a break: a DISCONT (the
    # stream went on after an underrun) or a silent period (the device
    # played silence where the guest was late: slow emulated hosts) breaks
    # it. A guest that kept up gives one run of the whole second.
    runs = [[]]
    for m, p in periods:
        silent = not any(p)
        if (m["flags"] & 1 or silent) and runs[-1]:
            runs.append([])
        if not silent:
            runs[-1].append(p)
    pcm = max((b"".join(r) for r in runs), key=len)
    n = len(pcm) // 4
    shape = [(m["position"], m["flags"], not any(p)) for m, p in periods]
    if n < RATE // 4:
        fail("the RPC reader's longest run without a break is %d frames: %r" % (n, shape))
    freq = dominant_freq(pcm_mono(1, 2, 16, pcm), RATE)
    if abs(freq - PLAY_HZ) > 5:
        fail("RPC AudioCapture: the dominant frequency is %d Hz, not %d (the longest of %d "
             "runs, %d frames; periods (position, flags, silent): %r)"
             % (freq, PLAY_HZ, len(runs), n, shape))
    print("RPC AudioCapture: %d run(s), the longest %d frames: %d Hz" % (len(runs), n, freq))
    sock.close()

    if clean:
        # The limited readers end by themselves at exactly a second.
        out, _ = c1.communicate(timeout=DEADLINE)
        if c1.returncode != 0:
            fail("cellctl record-audio --seconds 1: %d %r" % (c1.returncode, out))
        res = json.loads(out)
        if res["frames"] != RATE or res["lost"] or not t0 <= res["first_timestamp_ns"] <= t1:
            fail("cellctl record-audio: %r" % res)
        with open(rec1, "rb") as f:
            check_tone("cellctl record-audio --seconds 1", f.read(), RATE)
        ws.settimeout(DEADLINE)
        while not dechunk(wbody)[1]:
            c = ws.recv(65536)
            if not c:
                fail("GET audio?seconds=1 closed without its last chunk")
            wbody += c
        check_tone("GET audio?seconds=1", dechunk(wbody)[0], RATE)
    else:
        print("the guest underran (%s): the limited readers are stopped, not awaited" % played)
        c1.send_signal(signal.SIGINT)
        c1.communicate(timeout=DEADLINE)
    ws.close()
    c2.send_signal(signal.SIGINT)
    out, _ = c2.communicate(timeout=DEADLINE)
    if c2.returncode != 0:
        fail("cellctl record-audio, interrupted: %d %r" % (c2.returncode, out))
    with open(rec2, "rb") as f:
        check_tone("cellctl record-audio (interrupted)", f.read())

    # 16 readers per VM; the 17th is refused; a closed one frees its place
    # (the readers above may still hold places until the broker sees their
    # hang-ups: each place is waited for).
    readers = []

    def one_more():
        s, r, _ = audio_capture(b, vid)
        if r is None:
            s.close()
            return False
        readers.append(s)
        return True
    for i in range(16):
        wait_until(one_more, what="audio reader %d" % (i + 1))
    s, r, err = audio_capture(b, vid)
    if r is not None or err.get(1) != b"QUOTA_EXCEEDED":
        fail("the 17th audio reader: %r" % err)
    s.close()
    readers.pop().close()
    wait_until(one_more, what="a reader's place freed by its hang-up")
    for s in readers:
        s.close()

    # Sound for the guest: a short WAV over REST (204), then cellctl
    # play-audio of a 1000 Hz tone (replacing it) while the guest records.
    wait_until(lambda: "CELLVM-SND waiting" in con(), 120, "the guest to wait for record")
    got, r = b.req("POST", "/vm/%s/audio-input" % vid, good_wav)
    if got != 204:
        fail("POST audio-input: %d %r" % (got, r))
    push = os.path.join(tmp, "push.wav")
    with open(push, "wb") as f:
        f.write(wav_bytes(tone_s16(PUSH_HZ, 16000, 3.0), 16000, 1))
    before = b.logtext().count("audio-input vm=%s -> OK" % vid)
    player = subprocess.Popen([CELLCTL, "--socket", b.rpc, "--json", "play-audio", vid, push],
                              stdout=subprocess.PIPE, text=True)
    wait_until(lambda: b.logtext().count("audio-input vm=%s -> OK" % vid) > before,
               what="cellctl's AudioInput")
    # Readers that are there when the VM stops: the broker ends them.
    before = rpc_lines()
    rec3 = os.path.join(tmp, "rec3.wav")
    c3 = subprocess.Popen([CELLCTL, "--socket", b.rpc, "record-audio", vid, "-o", rec3],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ws2, st, hdrs, wbody2 = get_raw(b, "/vm/%s/audio" % vid)
    if st != 200:
        fail("GET audio: %d %r" % (st, hdrs))
    wait_until(lambda: rpc_lines() > before, what="cellctl's audio reader")
    b.ok("PUT", "/vm/%s/console" % vid, "record\n")
    # The whole line (up to its newline): the console may hold half of it yet.
    data_re = re.compile(r"CELLVM-DATA snd[^\n]*\n")
    wait_until(lambda: data_re.search(con()), 300, "the guest's recording")
    line = data_re.search(con()).group(0)
    data = dict(w.split("=", 1) for w in line.split("CELLVM-DATA snd", 1)[1].split() if "=" in w)
    print("guest: " + line.strip())
    if abs(float(data.get("freq", 0)) - PUSH_HZ) > 10 or float(data.get("rms", 0)) < 0.05:
        fail("the guest recorded %r, not a %d Hz tone" % (data, PUSH_HZ))
    out, _ = player.communicate(timeout=DEADLINE)
    if player.returncode != 0:
        fail("cellctl play-audio: %d %r" % (player.returncode, out))
    print("cellctl play-audio: %s" % out.strip().replace("\n", " "))
    # The check is over and the guest powers off: the stream ends with its
    # last chunk (nothing played since it began: no WAV header even), and
    # cellctl record-audio ends when the broker hangs up its reader.
    wait_until(lambda: b.ok("GET", "/vm/" + vid)["state"] == "stopped", 120,
               "the guest to power off")
    ws2.settimeout(DEADLINE)
    while not dechunk(wbody2)[1]:
        c = ws2.recv(65536)
        if not c:
            fail("GET audio of a VM that stopped closed without its last chunk")
        wbody2 += c
    ws2.close()
    if dechunk(wbody2)[0]:
        fail("GET audio while nothing played: %r" % dechunk(wbody2)[0][:60])
    out, err = c3.communicate(timeout=DEADLINE)
    if c3.returncode != 1 or "played nothing" not in err:
        fail("cellctl record-audio of a VM that stopped: %d %r" % (c3.returncode, err))
    b.stop()
    print("PASS")
finally:
    b.cleanup()
    subprocess.run(["rm", "-rf", tmp])
