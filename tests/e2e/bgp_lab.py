"""The many-hosts lab (README, "Many hosts"; issue 14): scripts/bgp-lab's
network with BIRD 2 on the router (docs/bird/lab-router.conf as it is) and,
on every Sluice host, the real lb-dataplane (net_af_packet on lb0, with the
liveness device), lb-controlplane (BGP on, through BIRD's socket) and BIRD
(docs/bird/sluice-host.conf with only its two include paths replaced). The
backends are sluice_lab's: lb-backend and backend_server.py on each.

Every process is started by us and ended by PID in close(), which also
removes the namespaces; use BgpLab as a context manager so that happens when
a test fails too.
"""
import datetime
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sluice_lab  # noqa: E402
from sluice_lab import Lab, ROOT, SKIP  # noqa: E402

BIRD = "/usr/sbin/bird"
LIVENESS_IFACE = "sluice-alive"
VIP_WEB, VIP_WEB6 = "192.0.2.10", "2001:db8::10"  # web_vips()
HASH_SEED = 0x5eed5eed  # the same on every host: the same Maglev choice
HOST_AS, ROUTER_AS = 65001, 65000
HOST_CONF = os.path.join(ROOT, "docs", "bird", "sluice-host.conf")
ROUTER_CONF = os.path.join(ROOT, "docs", "bird", "lab-router.conf")
# The two paths in HOST_CONF that a host's copy replaces, and nothing else.
HOST_LOCAL_PATH = "/etc/bird/sluice-host-local.conf"
HOST_INCLUDE_PATH = "/run/sluice/sluice.bird.conf"
CLIENT4 = sluice_lab.CLIENT4


def capability_problem():
    """Why this machine cannot run the lab (None if it can)."""
    problem = sluice_lab.capability_problem()
    if problem:
        return problem
    if not os.access(BIRD, os.X_OK):
        return f"needs BIRD 2 ({BIRD}; Debian package bird2, installed by scripts/setup)"
    if not os.path.exists("/dev/net/tun"):
        return "needs /dev/net/tun (the liveness device is a TUN interface)"
    return None


def run_bgp_test(name, tag, build, body, failures, hosts=3, hold_down=3):
    """main() of a test that runs `body(lab)` in one lab (as
    sluice_lab.run_lab_test): a missing capability fails under CI=true and
    skips otherwise; an exception is a failure reported with the daemons'
    logs; the lab is closed either way. Returns the exit code."""
    problem = capability_problem()
    if problem:
        print(f"{name}: {problem}")
        return 1 if os.environ.get("CI") == "true" else SKIP
    started = time.time()

    def on_term(signum, _frame):
        # meson's timeout sends SIGTERM: leave through the context manager,
        # so that the daemons end and the namespaces go.
        raise SystemExit(f"{name}: ended by signal {signum}")
    signal.signal(signal.SIGTERM, on_term)
    with BgpLab(build, f"{tag}{os.getpid() % 1000}", hosts=hosts, hold_down=hold_down) as lab:
        try:
            body(lab)
        except Exception as e:  # report, then clean up through the context
            failures.append(f"exception: {e!r}")
            print("FAIL exception:", repr(e), flush=True)
            lab.dump_logs()
        else:
            if failures:
                lab.dump_logs()
    print(f"{name}: {time.time() - started:.0f}s")
    if failures:
        print(f"{name}: {len(failures)} checks failed: {failures}")
        return 1
    print(f"{name}: all checks passed")
    return 0


class ApiConnection:
    """One connection to a control plane's API socket: newline-delimited
    JSON, one answer line per request (docs/control-api.md). For many
    requests in a row (flow.explain for 1,000 flows) instead of one lbctl
    process each. The daemon closes a connection idle for 10 s."""

    def __init__(self, path, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.file = self.sock.makefile("rwb")

    def call(self, op, **args):
        self.file.write(json.dumps({"op": op, **args}).encode() + b"\n")
        self.file.flush()
        line = self.file.readline()
        if not line:
            raise ConnectionError(f"{op}: the control plane closed the connection")
        answer = json.loads(line)
        if not answer.get("ok"):
            raise RuntimeError(f"{op} {args}: {answer.get('error')}")
        return answer["result"]

    def close(self):
        try:
            self.file.close()
        finally:
            self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Host:
    """One Sluice host: its namespace, addresses and daemons."""

    def __init__(self, lab, i):
        self.lab, self.i = lab, i
        self.name = f"h{i}"
        self.ns = f"{lab.prefix}-h{i}"
        self.addr4 = f"198.51.100.{8 * i + 2}"
        self.router4 = f"198.51.100.{8 * i + 1}"
        self.addr6 = f"2001:db8:a:{i:x}::2"
        self.instance = f"{lab.prefix}-h{i}"
        self.dir = os.path.join(lab.tmp, self.name)
        os.makedirs(self.dir, exist_ok=True)
        self.socket = os.path.join(self.dir, "cp.sock")
        self.state_file = os.path.join(self.dir, "state.json")
        self.audit = os.path.join(self.dir, "audit.log")
        self.bird_ctl = os.path.join(self.dir, "bird.ctl")
        self.bird_pid = os.path.join(self.dir, "bird.pid")
        self.bird_conf = os.path.join(self.dir, "bird.conf")
        self.bird_local = os.path.join(self.dir, "bird-local.conf")
        self.bird_include = os.path.join(self.dir, "sluice.bird.conf")

    def proc(self, what):
        return f"{self.name}-{what}"

    # --- daemons ----------------------------------------------------------
    def start_dataplane(self):
        seg = f"/dev/shm/sluice-{self.instance}"
        if os.path.exists(seg):
            os.unlink(seg)  # left by a dataplane we killed: wait for the new one
        args = ["ip", "netns", "exec", self.ns,
                os.path.join(self.lab.build, "dataplane", "lb-dataplane"),
                "--no-huge", "-m", "512", "--no-pci", "--no-shconf",
                "--file-prefix", self.instance, "-l", "0,1",
                "--log-level", "lib.eal:error", "--vdev", "net_af_packet0,iface=lb0",
                "--", "--instance", self.instance,
                "--next-hop-mac", self.lab.env[f"H{self.i}_ROUTER_MAC"],
                "--outer-src-v4", self.addr4, "--outer-src-v6", self.addr6,
                "--idle-backoff-us", "100", "--flows-per-lcore", "65536",
                "--hash-seed", str(HASH_SEED), "--liveness-iface", LIVENESS_IFACE]
        proc = self.lab.spawn(self.proc("dataplane"), args)
        self.lab.wait_for(lambda: os.path.exists(seg) or proc.poll() is not None, 30,
                          f"{self.name}'s lb-dataplane to create its segment")
        if proc.poll() is not None:
            raise RuntimeError(f"{self.name}'s lb-dataplane exited: "
                               + self.lab.read_log(self.proc("dataplane")))
        return proc

    def start_controlplane(self, extra=()):
        if os.path.exists(self.socket):
            os.unlink(self.socket)  # left by a control plane killed with -9
        # In the host's namespace: health probes leave from it, and the
        # liveness device it checks is there.
        proc = self.lab.spawn(self.proc("controlplane"), [
            "ip", "netns", "exec", self.ns,
            os.path.join(self.lab.build, "controlplane", "lb-controlplane"),
            "--instance", self.instance, "--socket", self.socket,
            "--state-file", self.state_file, "--audit-log", self.audit,
            "--metrics-address", "none",
            "--bird-socket", self.bird_ctl, "--bird-include", self.bird_include,
            "--bird-liveness-iface", LIVENESS_IFACE,
            "--bgp-hold-down", str(self.lab.hold_down), *extra])
        self.lab.wait_for(lambda: os.path.exists(self.socket) or proc.poll() is not None, 15,
                          f"{self.name}'s lb-controlplane to listen")
        if proc.poll() is not None:
            raise RuntimeError(f"{self.name}'s lb-controlplane exited: "
                               + self.lab.read_log(self.proc("controlplane")))
        return proc

    def write_bird_conf(self):
        """docs/bird/sluice-host.conf with its two include paths replaced
        (the file says so), and the host's constants."""
        with open(HOST_CONF) as f:
            text = f.read()
        for path in (HOST_LOCAL_PATH, HOST_INCLUDE_PATH):
            if text.count(f'include "{path}";') != 1:
                raise RuntimeError(f"{HOST_CONF} no longer includes {path} exactly once")
        text = text.replace(f'"{HOST_LOCAL_PATH}"', f'"{self.bird_local}"')
        text = text.replace(f'"{HOST_INCLUDE_PATH}"', f'"{self.bird_include}"')
        with open(self.bird_conf, "w") as f:
            f.write(text)
        with open(self.bird_local, "w") as f:
            f.write(f"define HOST_ID = {self.addr4};\n"
                    f"define HOST_AS = {HOST_AS};\n"
                    f"define ROUTER_ADDR = {self.router4};\n"
                    f"define ROUTER_AS = {ROUTER_AS};\n"
                    f"define HOST_ADDR6 = {self.addr6};\n")
        if not os.path.exists(self.bird_include):
            # BIRD refuses to start without it; lb-controlplane fills it.
            open(self.bird_include, "w").close()

    def start_bird(self):
        self.write_bird_conf()
        for path in (self.bird_ctl, self.bird_pid):
            if os.path.exists(path):
                os.unlink(path)
        proc = self.lab.spawn(self.proc("bird"), [
            "ip", "netns", "exec", self.ns, BIRD, "-f", "-c", self.bird_conf,
            "-s", self.bird_ctl, "-P", self.bird_pid])
        self.lab.wait_for(lambda: os.path.exists(self.bird_ctl) or proc.poll() is not None, 10,
                          f"{self.name}'s BIRD to open its control socket")
        if proc.poll() is not None:
            raise RuntimeError(f"{self.name}'s BIRD exited: " + self.lab.read_log(self.proc("bird")))
        return proc

    def stop(self, what, sig=signal.SIGTERM):
        self.lab.stop(self.proc(what), sig)

    def running(self, what):
        p = self.lab.procs.get(self.proc(what))
        return p is not None and p.poll() is None

    # --- driving it -------------------------------------------------------
    def lbctl(self, *args, check=True, timeout=60):
        r = subprocess.run([os.path.join(self.lab.build, "tools", "lbctl", "lbctl"),
                            "--socket", self.socket, *map(str, args)],
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"{self.name}: lbctl {' '.join(map(str, args))} failed "
                               f"({r.returncode}): {r.stderr.strip()} {r.stdout.strip()}")
        return r

    def json(self, *args):
        return json.loads(self.lbctl("-o", "json", *args).stdout)

    def api(self):
        return ApiConnection(self.socket)

    def apply_config(self, config):
        path = os.path.join(self.dir, "config.json")
        with open(path, "w") as f:
            json.dump(config, f)
        return self.lbctl("config", "apply", "-f", path)

    def in_sync(self):
        r = self.lbctl("-o", "json", "status", check=False)
        if r.returncode != 0:
            return False
        s = json.loads(r.stdout)
        return bool(s["dataplane"].get("attached") and s["controlplane"].get("in_sync"))

    def bgp(self):
        return self.json("bgp", "show")

    def vip_new_flows(self, vip_key_part):
        """New flows this host's dataplane took for the VIP whose key
        contains `vip_key_part` (e.g. "192.0.2.10:80")."""
        stats = self.json("stats")
        for v in stats.get("vips", []):
            if vip_key_part in v.get("key", ""):
                return v["new_flows"]
        raise KeyError(f"{self.name}: no VIP matching {vip_key_part} in lbctl stats")

    def liveness_state(self):
        """'up', 'down' or None (no device) in the host's namespace."""
        r = subprocess.run(["ip", "-j", "-n", self.ns, "link", "show", LIVENESS_IFACE],
                           capture_output=True, text=True)
        if r.returncode != 0 or not r.stdout.strip():
            return None
        flags = json.loads(r.stdout)[0].get("flags", [])
        return "up" if "UP" in flags else "down"


class RouteMonitor:
    """`ip -ts monitor route` on the router, into a file, for as long as it
    runs: every change of the router's routes with its time."""

    def __init__(self, lab, name):
        self.lab, self.name = lab, name
        self.path = os.path.join(lab.tmp, name + ".log")
        lab.spawn(name, ["ip", "-n", lab.ns_router, "-ts", "monitor", "route"])
        time.sleep(0.2)  # let it subscribe before anything happens

    def alive(self):
        p = self.lab.procs.get(self.name)
        return p is not None and p.poll() is None

    def stop(self):
        self.lab.stop(self.name)

    def text(self):
        try:
            with open(self.path) as f:
                return f.read()
        except OSError:
            return ""

    def events(self, prefix):
        """[(time, set of host indices)] for `prefix` ("192.0.2.10/32"),
        one per change of its route; an empty set is a deletion."""
        dst = prefix.split("/")[0]
        out = []
        for block in re.split(r"\n(?=\[)", self.text()):
            m = re.match(r"\[(\S+)\]\s*(Deleted\s+)?(\S+)", block)
            if not m or m.group(3) not in (dst, prefix):
                continue
            when = datetime.datetime.fromisoformat(m.group(1)).timestamp()
            gateways = re.findall(r"via (?:inet6 )?([0-9a-f.:]+)", block)
            hosts = set() if m.group(2) else {self.lab.host_of(g) for g in gateways}
            out.append((when, hosts))
        return out

    def lines_for(self, prefixes):
        """The monitor's lines that name any of `prefixes` (addresses or
        prefixes)."""
        dsts = {p.split("/")[0] for p in prefixes}
        return [ln for ln in self.text().splitlines()
                if any(re.search(r"(^|\s)" + re.escape(d) + r"(/\d+)?\s", ln + " ") for d in dsts)]


class BgpLab(Lab):
    def __init__(self, build_dir, prefix, hosts=3, backends=3, hold_down=3, log=print):
        super().__init__(build_dir, prefix, backends=backends, log=log)
        self.n_hosts = hosts
        self.hold_down = hold_down
        self.ns_router = f"{prefix}-router"
        self.router_ctl = os.path.join(self.tmp, "router-bird.ctl")
        self.hosts = [Host(self, i) for i in range(1, hosts + 1)]

    # --- set-up -----------------------------------------------------------
    def up(self):
        out = subprocess.run([os.path.join(ROOT, "scripts", "bgp-lab"), "up", "--prefix",
                              self.prefix, "--hosts", str(self.n_hosts),
                              "--backends", str(self.n_backends)],
                             check=True, capture_output=True, text=True).stdout
        for line in out.splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                self.env[k] = v.strip('"')

    def start_router(self):
        pid = os.path.join(self.tmp, "router-bird.pid")
        proc = self.spawn("router-bird", ["ip", "netns", "exec", self.ns_router, BIRD, "-f",
                                          "-c", ROUTER_CONF, "-s", self.router_ctl, "-P", pid])
        self.wait_for(lambda: os.path.exists(self.router_ctl) or proc.poll() is not None, 10,
                      "the router's BIRD to open its control socket")
        if proc.poll() is not None:
            raise RuntimeError("the router's BIRD exited: " + self.read_log("router-bird"))

    def start_all(self, config, vips_on_backends, extra_backends=()):
        """Network, backends, router, and every host's daemons; the same
        configuration applied to every host; returns when every host is in
        sync and the router has every host's route for every prefix in
        `config`."""
        t0 = time.time()
        self.up()
        self.start_backends(vips_on_backends)
        for name, args in extra_backends:
            self.spawn(name, args)
        self.start_router()
        for h in self.hosts:
            h.start_dataplane()
        for h in self.hosts:
            h.start_bird()
            h.start_controlplane()
        for h in self.hosts:
            h.apply_config(config)
        for h in self.hosts:
            self.wait_for(h.in_sync, 20, f"{h.name} in sync")
        everyone = {h.i for h in self.hosts}
        for p in config_prefixes(config):
            self.wait_for(lambda p=p: self.router_hosts(p) == everyone, 30,
                          f"the router to have {p} from every host")
        self.log(f"lab up in {time.time() - t0:.1f}s: {self.n_hosts} hosts announce "
                 f"{sorted(config_prefixes(config))}")

    # --- the router's view ------------------------------------------------
    def host_of(self, gateway):
        for h in self.hosts:
            if gateway in (h.addr4, h.addr6):
                return h.i
        return gateway

    def router_hosts(self, prefix):
        """The hosts the router's kernel sends `prefix` to (indices)."""
        hosts = set()
        for route in self.router_routes(prefix):
            hops = route.get("nexthops") or [route]
            for hop in hops:
                if "gateway" in hop:
                    hosts.add(self.host_of(hop["gateway"]))
        return hosts

    def router_routes(self, prefix):
        """The router's kernel routes for exactly `prefix` (ip -j)."""
        fam = "-6" if ":" in prefix else "-4"
        r = subprocess.run(["ip", fam, "-j", "-n", self.ns_router, "route", "show", "exact", prefix],
                           capture_output=True, text=True, timeout=10)
        return json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else []

    def wait_router(self, prefix, cond, seconds, poll=0.02, since=None):
        """Polls the router's route for `prefix` every `poll` seconds until
        cond(set of hosts) holds; the seconds from `since` (default: now)
        until it did, or None."""
        start = time.time() if since is None else since
        while time.time() - start < seconds:
            if cond(self.router_hosts(prefix)):
                return time.time() - start
            time.sleep(poll)
        return None

    def router_birdc(self, *args):
        r = subprocess.run(["/usr/sbin/birdc", "-s", self.router_ctl, *args],
                           capture_output=True, text=True, timeout=10)
        return r.stdout

    def monitor(self, name):
        return RouteMonitor(self, name)

    # --- reports and clean-up ---------------------------------------------
    def dump_logs(self):
        for name in sorted(self.procs) + ["router-bird"]:
            if any(k in name for k in ("dataplane", "controlplane", "bird")):
                print(f"--- {name} log ---\n" + self.read_log(name)[-2500:])
        print("--- router: birdc show protocols ---\n" + self.router_birdc("show", "protocols"))
        r = subprocess.run(["ip", "-n", self.ns_router, "route"], capture_output=True, text=True)
        print("--- router: ip route ---\n" + r.stdout)
        for h in self.hosts:
            if os.path.exists(h.socket):
                r = h.lbctl("-o", "json", "bgp", "show", check=False)
                print(f"--- {h.name}: lbctl bgp show ---\n{r.stdout.strip()}{r.stderr.strip()}")

    def remove_network(self):
        subprocess.run([os.path.join(ROOT, "scripts", "bgp-lab"), "down", "--prefix", self.prefix,
                        "--hosts", str(self.n_hosts), "--backends", str(self.n_backends)],
                       capture_output=True)

    def instances(self):
        return [h.instance for h in self.hosts]


def run_cases(lab, cases, measured):
    """Runs each case(lab) in turn, timing it, then prints what the cases
    measured as one MEASURED line (the closing notes' figures)."""
    for case in cases:
        t = time.time()
        case(lab)
        print(f"     ({case.__name__}: {time.time() - t:.1f} s)", flush=True)
    print("MEASURED " + json.dumps(measured), flush=True)


def shared_backends(v6=False):
    """The lab's three backends, as a VIP's "backends" in a configuration."""
    return [{"name": f"be{i}",
             "address": sluice_lab.backend_addr6(i) if v6 else sluice_lab.backend_addr4(i)}
            for i in (1, 2, 3)]


def web_vips(health_timing):
    """The lab's web VIP (port 80) in both families over the shared
    backends, with a TCP health check of `health_timing`."""
    check = {"kind": "tcp", **health_timing}
    return [{"address": VIP_WEB, "port": 80, "protocol": "tcp", "health": check,
             "backends": shared_backends()},
            {"address": VIP_WEB6, "port": 80, "protocol": "tcp", "health": check,
             "backends": shared_backends(v6=True)}]


def config_prefixes(config):
    return {v["address"] + ("/128" if ":" in v["address"] else "/32") for v in config["vips"]}


def explain_all(host, vip, vip_port, ports, client=CLIENT4, protocol="tcp"):
    """{client port: backend name} from one host's flow.explain, on one API
    connection."""
    out = {}
    with host.api() as api:
        for p in ports:
            r = api.call("flow.explain", client=client, client_port=p, vip=vip, vip_port=vip_port,
                         protocol=protocol)
            out[p] = (r.get("backend") or {}).get("name")
    return out


def carriers(hosts, vip, vip_port, ports, client=CLIENT4):
    """{client port: set of host indices whose workers hold the flow}."""
    out = {p: set() for p in ports}
    for h in hosts:
        if not h.running("controlplane"):
            continue
        with h.api() as api:
            for p in ports:
                r = api.call("flow.explain", client=client, client_port=p, vip=vip,
                             vip_port=vip_port, protocol="tcp")
                if (r.get("connection_table") or {}).get("entries"):
                    out[p].add(h.i)
    return out
