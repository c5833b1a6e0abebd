"""Small helpers shared by the control-plane script tests: a control API
client over the Unix socket, starting/stopping lb-controlplane by PID, and
the checks every script reports with."""
import json
import os
import signal
import socket
import subprocess
import time


# Every failed check of the script, in order; the script's exit code is
# non-zero when there is any.
failures = []


def check(cond, what):
    """Prints 'ok:' or 'FAIL:' and the check; remembers a failure."""
    print(("ok:   " if cond else "FAIL: ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def report():
    """The last line of every script and its exit code: 1 if a check failed."""
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


class ApiClient:
    """One connection; one request per line, one answer per line."""

    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def send_raw(self, data):
        self.sock.sendall(data)

    def read_line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by the daemon")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, request):
        self.send_raw(json.dumps(request).encode() + b"\n")
        return self.read_line()

    def at_eof(self):
        """True if the daemon closed the connection (after any pending data)."""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def call(path, request):
    c = ApiClient(path)
    try:
        return c.call(request)
    finally:
        c.close()


def start_controlplane(binary, args, log_path):
    log = open(log_path, "ab")
    return subprocess.Popen([binary] + args, stdout=log, stderr=subprocess.STDOUT)


def wait_for_socket(path, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"lb-controlplane exited early with {proc.returncode}")
        if os.path.exists(path):
            try:
                call(path, {"op": "status"})
                return
            except OSError:
                pass
        time.sleep(0.05)
    raise RuntimeError(f"no control API on {path} after {timeout} s")


def wait_until(pred, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def stop(proc, sig=signal.SIGTERM, timeout=10.0):
    """Ends a process we started, by its PID; returns its exit code."""
    if proc is None or proc.poll() is not None:
        return None if proc is None else proc.returncode
    try:
        os.kill(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        return proc.wait(timeout=timeout)
