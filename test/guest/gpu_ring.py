"""The frame capture ring (proto/capture_ring.h) read from Python, as a
third-party capture client would, and what the test guest's display check
(test/guest/gpu.c) draws: shared by test/guest/guest_check.py (cellvm run's
capture socket) and test/broker/display.py (the broker's capture RPC)."""
import mmap
import os
import select
import struct
import sys
import time
import zlib


def fail(why):
    print(f"FAIL: {why}", file=sys.stderr)
    sys.exit(1)


DRM_XRGB8888 = 0x34325258
DRM_ARGB8888 = 0x34325241
CURSOR_HOT = (5, 7)            # test/guest/gpu.c
CURSOR_AT = [(100, 120), (300, 200)]


def gpu_pattern(w, h):
    """What cellvm-check-gpu draws (test/guest/gpu.c gpu_pattern), as the
    ring's XRGB8888 bytes (B, G, R, X) with X 0."""
    out = bytearray(w * h * 4)
    i = 0
    for y in range(h):
        for x in range(w):
            out[i] = ((x + y * 7) >> 2) & 0xff
            out[i + 1] = ((y * 5) ^ x) & 0xff
            out[i + 2] = (x * 3 + y) & 0xff
            i += 4
    return bytes(out)


def gpu_cursor_image():
    """cellvm-check-gpu's cursor (gpu_cursor_pixel), ARGB8888 words."""
    return [0xff << 24 | (x * 4) << 16 | (y * 4) << 8 | 0x40 if x < 48 else 0
            for y in range(64) for x in range(64)]


class Ring:
    """A read-only mapping of the capture ring and the reader's eventfd."""

    HDR = "<IIIIQQIIIIQQ"
    SLOT = "<QQQIIIIII"
    CUR = "<QQiiIIIIIII"

    def __init__(self, ring_fd, efd, size):
        self.map = mmap.mmap(ring_fd, size, mmap.MAP_SHARED, mmap.PROT_READ)
        self.efd = efd
        os.set_blocking(efd, False)

    def header(self):
        h = struct.unpack_from(self.HDR, self.map, 0)
        if h[0] != 0x50414356 or h[1] != 1:
            fail(f"the capture ring's header is not a version 1 ring: {h[:2]}")
        return dict(nslots=h[3], slot_size=h[4], slots_offset=h[5], pixels_offset=h[6],
                    cursor_offset=h[9], serial=h[10])

    def frame(self):
        """The latest frame as (meta, pixels), or None (none yet, or torn)."""
        h = self.header()
        serial = h["serial"]
        if serial == 0:
            return None
        base = h["slots_offset"] + (serial % h["nslots"]) * h["slot_size"]
        seq, ser, ts, scanout, fourcc, w, hgt, stride, ndamage = struct.unpack_from(
            self.SLOT, self.map, base)
        if seq != 2 * serial or ser != serial:
            return None
        start = base + h["pixels_offset"]
        rows = [self.map[start + y * stride:start + y * stride + w * 4] for y in range(hgt)]
        if struct.unpack_from("<Q", self.map, base)[0] != seq:
            return None
        return dict(serial=serial, scanout=scanout, fourcc=fourcc, width=w, height=hgt,
                    ndamage=ndamage), b"".join(rows)

    def cursor(self):
        off = self.header()["cursor_offset"]
        f = struct.unpack_from(self.CUR, self.map, off)
        image = list(struct.unpack_from("<4096I", self.map, off + 64))
        if struct.unpack_from("<Q", self.map, off)[0] != f[0] or f[0] & 1:
            return None
        return dict(serial=f[1], x=f[2], y=f[3], hot=(f[4], f[5]), scanout=f[6],
                    visible=f[7], size=(f[8], f[9]), fourcc=f[10], image=image)

    def wait(self, deadline):
        """Until the eventfd says something new (or the deadline)."""
        left = deadline - time.monotonic()
        if left > 0 and select.select([self.efd], [], [], left)[0]:
            try:
                os.read(self.efd, 8)
            except BlockingIOError:
                pass


def png_bytes(w, h, bgrx):
    """An RGB PNG of XRGB8888 pixels, to look at."""
    raw = bytearray()
    for y in range(h):
        raw.append(0)
        row = bgrx[y * w * 4:(y + 1) * w * 4]
        rgb = bytearray(w * 3)
        rgb[0::3], rgb[1::3], rgb[2::3] = row[2::4], row[1::4], row[0::4]
        raw += rgb

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(bytes(raw), 6)) + chunk(b"IEND", b""))


