#!/usr/bin/env python3
"""State files are written off the broker's loop (broker_state.c's writer
thread): a disk that stalls writeback must not stall the API. The test hook
CELLVM_TEST_STATE_GATE (builds with the test suite only) names a FIFO the
writer thread reads one byte from before each write, or EOF: while the test
holds it, the thread is stuck as on a stalled disk.

- held: a create is answered, and so are list, info and ping, while no
  state file exists yet;
- a VM created and deleted while held never gets a file: the delete replaces
  the pending write, the late write does not bring it back;
- released (the FIFO closed): the first VM's file appears, whole, with its
  definition; the deleted one's never does;
- a state change queued just before a shutdown is on disk when the broker has
  exited 0 (the queue is drained at exit).
No VM is booted: no KVM needed; root (the broker is the privileged process).
Usage: state_writer.py BINDIR PAYLOADDIR"""
import errno
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import Broker, fail, payload, skip, wait_until

bindir, paydir = sys.argv[1], sys.argv[2]
if os.geteuid() != 0:
    skip("needs root (the broker is the privileged process)")
KERNEL = payload(paydir, "serial_irq.elf")

b = Broker(bindir, "")
gate_fd = None
try:
    gate = os.path.join(b.tmp, "state-gate")
    os.mkfifo(gate, 0o600)
    os.environ["CELLVM_TEST_STATE_GATE"] = gate
    b.start()
    del os.environ["CELLVM_TEST_STATE_GATE"]
    vmsdir = os.path.join(b.state, "vms")

    def open_gate():
        # ENXIO until the writer thread has opened its end (it waits there).
        try:
            return os.open(gate, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as e:
            if e.errno != errno.ENXIO:
                raise
            return None
    gate_fd = wait_until(open_gate, what="the writer thread to open the gate")

    def create(name):
        return b.ok("POST", "/vm.create", {"kernel": KERNEL, "name": name,
                                            "memory": "32M"})["vm_id"]
    kept = create("kept")
    gone = create("gone")
    # The loop answers while the writer holds the first write.
    if {v["id"] for v in b.ok("GET", "/vm.list")} != {kept, gone}:
        fail("list while the writer is held")
    if b.ok("GET", "/vm/" + kept)["state"] != "created":
        fail("info while the writer is held")
    b.ok("GET", "/vmm.ping")
    b.ok("DELETE", "/vm/" + gone)
    if b.ok("GET", "/vmm.ping") is None:
        fail("ping")
    files = [f for f in os.listdir(vmsdir) if not f.startswith(".")]
    if files:
        fail("state files written while the writer was held: %r" % files)
    print("answered 6 requests with the state writer held; no file yet")

    os.close(gate_fd)  # EOF: the thread writes from now on
    gate_fd = None
    path = os.path.join(vmsdir, kept + ".json")
    wait_until(lambda: os.path.exists(path), what="the state file after the release")
    with open(path) as f:
        st = json.load(f)
    if st["id"] != kept or st["state"] != "created" or st["definition"]["name"] != "kept":
        fail("state file: %r" % st)

    # A change queued just before the exit is drained before the broker ends.
    last = create("last")
    b.stop()
    if "\"id\"" not in open(os.path.join(vmsdir, last + ".json")).read():
        fail("the last VM's state file was not written before the exit")
    if os.path.exists(os.path.join(vmsdir, gone + ".json")):
        fail("a VM deleted while its write was pending has a state file")
    if any(f.startswith(".") for f in os.listdir(vmsdir)):
        fail("temporary files left: %r" % os.listdir(vmsdir))
    print("released: written in order; the deleted VM stays deleted; drained at exit")
finally:
    if gate_fd is not None:
        os.close(gate_fd)
    b.cleanup()
