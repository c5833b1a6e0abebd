#!/usr/bin/python3
"""lb-bench --quick --scenario xdp-loop, as a test of paths (never speed):
ring-loop's traffic through two net_af_xdp ports on a veth pair lb-bench
makes in a network namespace of its own. It needs root; without it the test
is skipped (exit 77), or fails with CI=true, saying why.

Usage: xdp_loop_quick.py LB_BENCH
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import sluice_lab  # noqa: E402


def main():
    problem = sluice_lab.capability_problem()
    if problem:
        print(f"xdp-loop: {problem}")
        return 1 if os.environ.get("CI") == "true" else sluice_lab.SKIP
    r = subprocess.run([sys.argv[1], "--no-huge", "-m", "2048", "--no-pci", "--no-shconf", "-l",
                        "0", "--log-level", "lib.eal:error", "--", "--quick", "--scenario",
                        "xdp-loop"], timeout=240)
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
