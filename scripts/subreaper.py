"""Run a command as the child of a child subreaper that reaps every orphan at once.

Without systemd, QEMU processes that libvirtd daemonises are re-parented to a PID 1 that reaps
slowly; with this process as their subreaper `virsh destroy` drops from ~2 s to ~0.3 s
(docs/host-notes.md). Exits with the command's status; forwards SIGTERM/SIGINT to it.
"""
import ctypes, os, signal, sys

PR_SET_CHILD_SUBREAPER = 36
ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
child = os.fork()
if child == 0:
    os.execv(sys.argv[1], sys.argv[1:])
for s in (signal.SIGTERM, signal.SIGINT):
    signal.signal(s, lambda n, _f: os.kill(child, n))
status = 0
while True:
    try:
        pid, st = os.wait()
    except ChildProcessError:
        break
    except InterruptedError:
        continue
    if pid == child:
        status = os.waitstatus_to_exitcode(st)
sys.exit(status if status >= 0 else 128 - status)
