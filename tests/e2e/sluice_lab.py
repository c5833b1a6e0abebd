"""A whole Sluice deployment in network namespaces, for the end-to-end tests
and the demo: scripts/topology's hosts, lb-backend and a real server on each
backend, lb-dataplane on the Sluice host (net_af_packet on its veth, the
kernel keeps ARP), lb-controlplane, and lbctl to drive it.

Every process is started by us and ended by PID in close(), which also
removes the namespaces; use it as a context manager so that happens when a
test fails too.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
E2E = os.path.join(ROOT, "tests", "e2e")
PYTHON = "/usr/bin/python3"  # Debian's, with scapy

VIP4_HTTP = "192.0.2.10"
VIP4_GUE = "192.0.2.11"
VIP4_UDP = "192.0.2.12"
VIP6_HTTP = "2001:db8::10"
CLIENT4 = "203.0.113.10"


def backend_addr4(i):
    return f"198.51.100.{130 + i}"


def backend_addr6(i):
    # scripts/topology writes 2001:db8:b::1NN with NN the decimal index.
    return f"2001:db8:b::{100 + i}"


def capability_problem():
    """Why this machine cannot run a namespace lab (None if it can): the
    tests fail with it under CI=true and skip with it otherwise."""
    if os.geteuid() != 0:
        return "needs root"
    probe = f"sluice-probe-{os.getpid()}"
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if r.returncode != 0:
        return "cannot create a network namespace: " + r.stderr.strip()
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


SKIP = 77  # meson's exit code for a skipped test


def checker(failures):
    """check(cond, what): prints the outcome, records a failure, and
    returns whether the check passed (for a case that cannot go on)."""
    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what, flush=True)
        if not cond:
            failures.append(what)
        return bool(cond)
    return check



def note(what):
    """A line of the test's log that is not a check (a figure, a step)."""
    print("     " + what, flush=True)


def read_json(path, default=None):
    """The JSON document in `path` (a client's results file); `default`
    while it is missing or half written, if given."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        if default is None:
            raise
        return default


def run_lab_test(name, tag, build, body, failures):
    """main() of a test that runs `body(lab)` in one lab: a missing
    capability fails under CI=true and skips otherwise; an exception is a
    failure reported with the daemons' logs; the lab is closed either way.
    `failures` is the list the test's checks append to. Returns the exit
    code."""
    problem = capability_problem()
    if problem:
        print(f"{name}: {problem}")
        return 1 if os.environ.get("CI") == "true" else SKIP
    started = time.time()
    with Lab(build, f"{tag}{os.getpid() % 100000}") as lab:
        try:
            body(lab)
        except Exception as e:  # report, then clean up through the context
            failures.append(f"exception: {e!r}")
            print("FAIL exception:", repr(e))
            for daemon in ("dataplane", "controlplane"):
                print(f"--- {daemon} log ---\n" + lab.read_log(daemon))
    print(f"{name}: {time.time() - started:.0f}s")
    if failures:
        print(f"{name}: {len(failures)} checks failed")
        return 1
    print(f"{name}: all checks passed")
    return 0


class Lab:
    def __init__(self, build_dir, prefix, backends=3, log=print):
        self.build = os.path.abspath(build_dir)
        self.prefix = prefix
        self.n_backends = backends
        self.log = log
        self.instance = prefix
        self.tmp = tempfile.mkdtemp(prefix=f"sluice-{prefix}-")
        self.socket = os.path.join(self.tmp, "cp.sock")
        self.state_file = os.path.join(self.tmp, "state.json")
        self.procs = {}  # name -> Popen
        self.env = {}

    # --- set-up ---------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def ns_backend(self, i):
        return f"{self.prefix}-be{i}"

    def up(self, mode="af_packet"):
        """scripts/topology up in a port mode (af_packet, af_xdp, exception)."""
        out = subprocess.run([os.path.join(ROOT, "scripts", "topology"), "up", "--prefix",
                              self.prefix, "--backends", str(self.n_backends), "--mode", mode],
                             check=True, capture_output=True, text=True).stdout
        for line in out.splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                self.env[k] = v.strip('"')

    def host_addresses(self, iface):
        """Exception mode: the Sluice host's addresses onto lb-dataplane's
        exception interface (scripts/topology host-addresses)."""
        subprocess.run([os.path.join(ROOT, "scripts", "topology"), "host-addresses", iface,
                        "--prefix", self.prefix], check=True, capture_output=True, text=True)

    def start_backends(self, vips):
        backend_tool = os.path.join(self.build, "tools", "lb-backend", "lb-backend")
        for i in range(1, self.n_backends + 1):
            ns = self.ns_backend(i)
            args = ["ip", "netns", "exec", ns, backend_tool, "up", "--iface", "eth0"]
            for v in vips:
                args += ["--vip", v]
            subprocess.run(args, check=True, capture_output=True, text=True)
            self.spawn(f"server{i}", ["ip", "netns", "exec", ns, PYTHON,
                                      os.path.join(E2E, "backend_server.py"), f"be{i}"])
        # Wait (bounded) until every server listens.
        for i in range(1, self.n_backends + 1):
            self.wait_for(lambda i=i: self.listening(self.ns_backend(i), 80), 10,
                          f"HTTP server on backend {i}")

    def start_dataplane(self, extra=(), flows_per_lcore=65536,
                        vdevs=("net_af_packet0,iface=lb0",), lcores=("-l", "0,1"),
                        next_hop_ips=(), idle_backoff_us=50):
        """lb-dataplane on the Sluice host: by default net_af_packet on lb0
        and one worker; `vdevs` (EAL --vdev values, port ids in order, e.g.
        "net_af_xdp0,iface=lb0" with --xdp-steering in extra) and `lcores`
        (EAL lcore options) choose other ports and workers.
        next_hop_ips: addresses for --next-hop-ip (the dataplane learns the
        router's MAC from the kernel) instead of --next-hop-mac."""
        vdev_args = [a for v in vdevs for a in ("--vdev", v)]
        if next_hop_ips:
            next_hop = [a for ip in next_hop_ips for a in ("--next-hop-ip", ip)]
        else:
            next_hop = ["--next-hop-mac", self.env["ROUTER_MAC_TO_LB"]]
        args = ["ip", "netns", "exec", self.env["NS_LB"],
                os.path.join(self.build, "dataplane", "lb-dataplane"),
                "--no-huge", "-m", "512", "--no-pci", "--no-shconf", *lcores,
                "--log-level", "lib.eal:error", *vdev_args,
                "--", "--instance", self.instance, *next_hop,
                "--outer-src-v4", "198.51.100.2", "--outer-src-v6", "2001:db8:a::2",
                "--idle-backoff-us", str(idle_backoff_us),
                "--flows-per-lcore", str(flows_per_lcore), *extra]
        seg = f"/dev/shm/sluice-{self.instance}"
        if os.path.exists(seg):
            os.unlink(seg)  # left by a dataplane we killed: wait for the new one
        proc = self.spawn("dataplane", args)
        self.wait_for(lambda: os.path.exists(seg) or proc.poll() is not None, 20,
                      "lb-dataplane to create its segment")
        if proc.poll() is not None:
            raise RuntimeError("lb-dataplane exited: " + self.read_log("dataplane"))
        return proc

    def stop_dataplane(self, sig=signal.SIGTERM):
        self.stop("dataplane", sig)

    def start_controlplane(self, extra=(), netns=None):
        # The metrics exporter is off unless a test asks for it: tests run
        # one after another and must not fight over a port.
        if not any(a == "--metrics-address" for a in extra):
            extra = ("--metrics-address", "none", *extra)
        # In a namespace (the Sluice host's) when it must reach the backends
        # (health probes); the socket and the segment are files, so they
        # work across namespaces.
        prefix = ["ip", "netns", "exec", netns] if netns else []
        if os.path.exists(self.socket):
            os.unlink(self.socket)  # left by a control plane killed with -9
        proc = self.spawn("controlplane", prefix + [
            os.path.join(self.build, "controlplane", "lb-controlplane"),
            "--instance", self.instance, "--socket", self.socket,
            "--state-file", self.state_file, *extra])
        self.wait_for(lambda: os.path.exists(self.socket) or proc.poll() is not None, 10,
                      "lb-controlplane to listen")
        if proc.poll() is not None:
            raise RuntimeError("lb-controlplane exited: " + self.read_log("controlplane"))
        return proc

    # --- driving it -----------------------------------------------------
    def lbctl(self, *args, check=True):
        r = subprocess.run([os.path.join(self.build, "tools", "lbctl", "lbctl"),
                            "--socket", self.socket, *args],
                           capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            raise RuntimeError(f"lbctl {' '.join(args)} failed ({r.returncode}): "
                               f"{r.stderr.strip()}")
        return r

    def stats(self):
        """The dataplane's counters, summed over its lcores (lbctl stats)."""
        return json.loads(self.lbctl("-o", "json", "stats").stdout)["counters"]

    def apply_config(self, config):
        path = os.path.join(self.tmp, "config.json")
        with open(path, "w") as f:
            json.dump(config, f)
        return self.lbctl("config", "apply", "-f", path)

    def wait_in_sync(self, timeout=10):
        def synced():
            r = self.lbctl("-o", "json", "status", check=False)
            if r.returncode != 0:
                return False
            s = json.loads(r.stdout)
            return s["dataplane"].get("attached") and s["controlplane"].get("in_sync")
        self.wait_for(synced, timeout, "the control plane to push to the dataplane")

    def client(self, *args, timeout=180):
        r = subprocess.run(["ip", "netns", "exec", self.env["NS_CLIENT"], PYTHON,
                            os.path.join(E2E, "client_tool.py"), *map(str, args)],
                           capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"client_tool {args[0]} failed: {r.stderr.strip()}")
        return json.loads(r.stdout) if r.stdout.strip() else None

    def client_background(self, name, *args):
        return self.spawn(name, ["ip", "netns", "exec", self.env["NS_CLIENT"], PYTHON,
                                 os.path.join(E2E, "client_tool.py"), *map(str, args)])

    def wait_long(self, path, conns, seconds, what):
        """Until every one of `conns` long-lived connections (client_tool
        http-long writing `path`) has answered twice, its handshake and data
        confirmed, bounded; their results then."""
        def confirmed():
            state = read_json(path, [])
            return len(state) == conns and all(s["ok"] >= 2 for s in state)
        self.wait_for(confirmed, seconds, what)
        return read_json(path)

    def ns_run(self, ns, args, timeout=30, check=False):
        """What `args` print in namespace `ns`; with check, a failure raises
        with its stderr."""
        r = subprocess.run(["ip", "netns", "exec", ns, *args], capture_output=True, text=True,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} in {ns}: {r.stderr.strip()}")
        return r.stdout

    def listening(self, ns, port):
        # A dual-stack socket shows as *:80 or [::]:80, depending on ss.
        out = self.ns_run(ns, ["ss", "-Hltn", f"sport = :{port}"])
        return bool(out.strip())

    def link_stats(self, ns, iface):
        out = json.loads(self.ns_run(ns, ["ip", "-j", "-s", "link", "show", iface]))
        s = out[0]["stats64"]
        return {"rx_packets": s["rx"]["packets"], "rx_bytes": s["rx"]["bytes"],
                "tx_packets": s["tx"]["packets"], "tx_bytes": s["tx"]["bytes"]}

    def decap_stats(self, i):
        out = self.ns_run(self.ns_backend(i), [
            os.path.join(self.build, "tools", "lb-backend", "lb-backend"), "status",
            "--iface", "eth0", "--json"])
        return json.loads(out)

    # --- processes ------------------------------------------------------
    def spawn(self, name, args):
        log = open(os.path.join(self.tmp, name + ".log"), "w")
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs[name] = proc
        return proc

    def read_log(self, name):
        try:
            with open(os.path.join(self.tmp, name + ".log")) as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def stop(self, name, sig=signal.SIGTERM, timeout=10):
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        # `ip netns exec` runs the program in its own process: signal the
        # whole session we started it in, by PID.
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=timeout)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=5)

    def wait_for(self, cond, seconds, what):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if cond():
                return
            time.sleep(0.1)
        raise TimeoutError(f"timed out after {seconds}s waiting for {what}")

    def close(self):
        for name in list(self.procs):
            self.stop(name)
        backend_tool = os.path.join(self.build, "tools", "lb-backend", "lb-backend")
        for i in range(1, self.n_backends + 1):
            # Also removes lb-backend's record of what it changed.
            subprocess.run(["ip", "netns", "exec", self.ns_backend(i), backend_tool, "down",
                            "--iface", "eth0"], capture_output=True)
        self.remove_network()
        shutil.rmtree(self.tmp, ignore_errors=True)
        for instance in self.instances():
            try:
                os.unlink(f"/dev/shm/sluice-{instance}")
            except FileNotFoundError:
                pass

    def remove_network(self):
        subprocess.run([os.path.join(ROOT, "scripts", "topology"), "down", "--prefix",
                        self.prefix, "--backends", str(self.n_backends)],
                       capture_output=True)

    def instances(self):
        """The dataplane instances whose segments close() removes."""
        return [self.instance]
