"""Whether a thread count reaches the kernels at all, and whether their regions keep
OpenMP's pool of threads from one call to the next.

A bitwise comparison of n_threads=1 with n_threads=2 proves nothing if both ran on one
thread, which a problem below the kernels' work threshold (common/parallel.hpp) or an
argument lost on its way does. OpenMP starts its worker threads at the first parallel
region that asks for more than one, so in a fresh interpreter the process' thread count
(Linux: /proc/self/task) before and after one call tells whether that call ran on more.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

_TASKS = Path("/proc/self/task")

_STARTED = """
import os, sys
setup, call = sys.argv[1:3]
exec(setup)
before = len(os.listdir("/proc/self/task"))
exec(call)
print(len(os.listdir("/proc/self/task")) - before)
"""

_REPLACED = """
import os, sys
setup, call = sys.argv[1:3]
exec(setup)
exec(call)
before = set(os.listdir("/proc/self/task"))
exec(call)
after = set(os.listdir("/proc/self/task"))
print(len(before), len(before ^ after))
"""


def _run(script, setup, call):
    """The integers that ``script`` prints, run with ``setup`` and ``call`` in a fresh
    interpreter."""
    if not _TASKS.is_dir():
        pytest.skip("counting a process' threads needs Linux's /proc/self/task")
    # numpy's BLAS threads are not rnnkit's: an older OpenBLAS (numpy 2.0, the last for
    # Python 3.9) starts its pool at the first large product, inside the counted call.
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", script, setup, call],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return [int(word) for word in done.stdout.split()]


def threads_started(setup, call):
    """Threads the statement ``call`` starts, run after ``setup`` (imports, data, any
    single-threaded preparation) in a fresh interpreter."""
    return _run(_STARTED, setup, call)[-1]


def threads_replaced(setup, call):
    """(threads alive after one run of ``call``, threads that a second run of it ended or
    started), after ``setup``, in a fresh interpreter: a thread that ends and one that
    starts in its place have different ids, so a pool kept whole from one run to the next
    shows 0."""
    return tuple(_run(_REPLACED, setup, call)[-2:])
