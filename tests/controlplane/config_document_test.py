#!/usr/bin/python3
"""One configuration document, and never wiping a working dataplane, with
the real processes (lb-dataplane on a net_null port, lb-controlplane,
lbctl; no root needed).

Checked:
- adoption: a configuration is applied; the control plane is killed (-9)
  and its state file removed; a new control plane adopts what the dataplane
  applies: no push (generation and digest unchanged), `config export` equals
  `config export --applied` and the configuration applied before, status and
  the audit log say so; its first change is a delta on it;
- a corrupt state file still stops the start, naming the moved-aside file
  and how to proceed; the next plain start adopts again;
- round trip: `lbctl config export` (no ids) and the state file (with ids)
  given to another lb-dataplane as --static-config apply the same
  configuration: the same digest as the first dataplane;
- an empty configuration is refused unless --allow-empty says so.

Usage: config_document_test.py LB_CONTROLPLANE LB_DATAPLANE LBCTL
"""
import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from control_path_scale_test import Lab  # noqa: E402
from cp_client import check, failures, wait_until  # noqa: E402

CONFIG = {"vips": [
    {"address": "192.0.2.10", "port": 80, "protocol": "tcp", "table_size": 251,
     "backends": [{"name": "web-1", "address": "198.51.100.1"},
                  {"name": "web-2", "address": "198.51.100.2", "weight": 3},
                  {"name": "web-3", "address": "198.51.100.3", "state": "draining"}]},
    {"address": "2001:db8::10", "port": 0, "protocol": "udp", "encap": "gue", "table_size": 257,
     "backends": [{"name": "dns-1", "address": "2001:db8:2::1"},
                  {"name": "dns-2", "address": "198.51.100.9", "state": "disabled"}]},
]}


def export(lab, *flags):
    rc, out, err = lab.lbctl("config", "export", *flags)
    check(rc == 0, f"config export {' '.join(flags)} answers ({err.strip()})")
    return json.loads(out) if rc == 0 else None


def adoption(lab):
    print("--- adoption", flush=True)
    lab.start_dataplane()
    lab.start_controlplane()
    rc, out, err = lab.apply_file(CONFIG)
    check(rc == 0 and wait_until(lab.in_sync, 10), f"the configuration applies ({err.strip()})")
    before = lab.status()
    desired = export(lab)
    check(export(lab, "--applied") == desired, "the applied configuration equals the desired one")

    lab.kill("cp")
    state = os.path.join(lab.tmp, "state.json")
    os.unlink(state)
    lab.start_controlplane()
    check(wait_until(lambda: lab.status()["controlplane"].get("adopted") is not None, 10),
          "the new control plane adopted the dataplane's configuration")
    after = lab.status()
    check(after["dataplane"]["generation"] == before["dataplane"]["generation"],
          "nothing was pushed (generation unchanged)")
    check(after["dataplane"]["config_digest"] == before["dataplane"]["config_digest"]
          and after["controlplane"]["config_digest"] == before["dataplane"]["config_digest"],
          "digests unchanged and equal on both sides")
    check(after["controlplane"]["in_sync"] is True, "in sync")
    check(export(lab) == desired, "config export equals the configuration applied before")
    check(export(lab, "--applied") == desired, "config export --applied too")
    check(os.path.exists(state), "the adopted configuration is persisted")
    rc, out, err = lab.lbctl("status")
    check("adopted" in out, f"lbctl status says so: {out!r}")
    with open(os.path.join(lab.tmp, "audit.log")) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    check(any(line.get("op") == "adopt" for line in lines), "the audit log has the adoption")

    gen = after["dataplane"]["generation"]
    txns = after["controlplane"]["transactions_pushed"]
    rc, out, err = lab.lbctl("backend", "set-weight", "192.0.2.10:80/tcp", "web-1", "2")
    s = lab.status()
    check(rc == 0 and s["dataplane"]["generation"] == gen + 1
          and s["controlplane"]["transactions_pushed"] == txns + 1,
          f"the first change after adoption is one transaction ({err.strip()})")
    applied = export(lab, "--applied")
    check(applied is not None and len(applied["vips"]) == 2,
          "the first change kept every VIP (it was a delta, not a wipe)")

    print("--- a corrupt state file", flush=True)
    lab.kill("cp")
    with open(state, "w") as f:
        f.write("{ not json")
    proc_rc, log = start_expecting_failure(lab)
    check(proc_rc == 1, f"a corrupt state file stops the start (exit {proc_rc})")
    check("moved it aside to" in log and "adopts" in log,
          f"the message names the moved-aside file and how to proceed: {log.strip()[-400:]}")
    check(not os.path.exists(state), "the corrupt file was moved aside")
    lab.start_controlplane()
    check(wait_until(lambda: lab.status()["controlplane"].get("adopted") is not None, 10),
          "the next plain start adopts the dataplane's configuration")
    check(lab.status()["dataplane"]["generation"] == gen + 1, "still nothing pushed")


def start_expecting_failure(lab):
    import subprocess
    log_path = os.path.join(lab.tmp, "refused-start.log")
    with open(log_path, "w") as log:
        proc = subprocess.run(
            [lab.cp_bin, "--instance", lab.instance, "--socket", lab.sock,
             "--state-file", os.path.join(lab.tmp, "state.json"),
             "--audit-log", os.path.join(lab.tmp, "audit.log")],
            stdout=log, stderr=subprocess.STDOUT, timeout=20)
    with open(log_path) as f:
        return proc.returncode, f.read()


def round_trip(lab):
    print("--- one document for --static-config", flush=True)
    digest = lab.status()["dataplane"]["config_digest"]
    rc, out, err = lab.lbctl("config", "export")
    exported = os.path.join(lab.tmp, "exported.json")
    with open(exported, "w") as f:
        f.write(out)
    state_copy = os.path.join(lab.tmp, "state-copy.json")
    shutil.copy(os.path.join(lab.tmp, "state.json"), state_copy)
    for what, path in (("the state file", state_copy), ("config export's output", exported)):
        other = Lab(lab.cp_bin, lab.dp_bin, lab.lbctl_bin)
        other.instance += "-b"
        try:
            other.start_dataplane("--static-config", path)
            other.start_controlplane()  # no state: it adopts, and shows the digest
            check(wait_until(lambda: other.status()["dataplane"].get("attached") is True, 10),
                  f"a dataplane started with {what} as --static-config")
            got = other.status()["dataplane"]["config_digest"]
            if what == "the state file":
                check(got == digest, f"{what}: the same applied configuration ({got} == {digest})")
            else:
                # The export has no ids; --static-config numbers them as a
                # control plane without history would: compare with one.
                fresh = Lab(lab.cp_bin, lab.dp_bin, lab.lbctl_bin)
                fresh.instance += "-c"
                try:
                    fresh.start_dataplane()
                    fresh.start_controlplane()
                    rc, _, err = fresh.lbctl("config", "apply", "-f", path)
                    check(rc == 0 and wait_until(fresh.in_sync, 10), f"fresh apply ({err.strip()})")
                    want = fresh.status()["dataplane"]["config_digest"]
                    check(got == want, f"{what}: the configuration a fresh control plane applies "
                                       f"({got} == {want})")
                finally:
                    fresh.cleanup()
            check(export(other, "--applied") == export(lab), f"{what}: same configuration exported")
        finally:
            other.cleanup()


def empty(lab):
    print("--- an empty configuration", flush=True)
    before = lab.status()
    for doc in ({}, {"vips": []}):
        rc, out, err = lab.apply_file(doc)
        check(rc == 3, f"{json.dumps(doc)} refused with exit 3 ({err.strip()})")
    after = lab.status()
    check(after["dataplane"]["generation"] == before["dataplane"]["generation"]
          and after["controlplane"]["vips"] == 2, "state and generation unchanged")
    rc, out, err = lab.apply_file({"vips": []}, "--allow-empty")
    check(rc == 0 and lab.status()["controlplane"]["vips"] == 0,
          f"--allow-empty empties it ({err.strip()})")


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    return Lab(*sys.argv[1:]).run(adoption, round_trip, empty)


if __name__ == "__main__":
    sys.exit(main())
