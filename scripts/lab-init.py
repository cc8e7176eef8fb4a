"""PID 1 of a lab host's pid namespace (scripts/lab-host.sh): reaps every orphan, and on SIGTERM
stops everything in the namespace — and only that — then exits.

Why a program of its own: the daemons of a lab (libvirtd, virtlogd, sshd, the QEMU processes
libvirtd starts) daemonise and are re-parented to the namespace's PID 1, which must reap them;
bash as PID 1 neither reaps promptly nor handles TERM. `kill(-1, sig)` from a pid namespace's
init reaches every process in that namespace and nothing outside it.

Usage (inside `unshare --pid --fork`): python3 lab-init.py READY_FILE
"""
import os, signal, sys, time


class Stop(Exception):
    pass


def on_term(_n, _f):
    raise Stop()


signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, on_term)
with open(sys.argv[1], "w") as f:
    f.write(str(os.getpid()) + "\n")

try:
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            time.sleep(0.5)
except Stop:
    pass
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)

# stop the namespace: TERM for a clean daemon stop, then KILL what is left
for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
    try:
        os.kill(-1, sig)
    except ProcessLookupError:
        break
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            sys.exit(0)
        if pid == 0:
            time.sleep(0.05)
sys.exit(0)
