"""Per-user memory and CPU limits with Linux control groups (v2, or v1's
memory and cpu controllers), for GradbookSpawner.

A user's server and everything it starts (kernels, terminals) join one
group: `memory` caps their memory together (past it the kernel's OOM killer
ends the largest process in the group, usually a kernel, which Jupyter then
restarts), `cpus` their CPU time (a CFS quota: 1.5 = one and a half cores).
"""
import os
import signal
import time

ROOT = "/sys/fs/cgroup"
PERIOD_US = 100_000


class CgroupError(Exception):
    pass


def _write(path, value):
    with open(path, "w") as f:
        f.write(str(value))


def _own_paths():
    """controller -> this process's group path, from /proc/self/cgroup."""
    out = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctls, path = line.rstrip("\n").split(":", 2)
            for ctl in ctls.split(",") if ctls else [""]:
                out[ctl] = path
    return out


def version():
    """2, 1, or None (no cgroup file system we can use)."""
    if os.path.exists(os.path.join(ROOT, "cgroup.controllers")):
        return 2
    if os.path.isdir(os.path.join(ROOT, "memory")) and os.path.isdir(os.path.join(ROOT, "cpu")):
        return 1
    return None


class Cgroup:
    """One user's group: a folder per hierarchy (v1: memory and cpu; v2: one)."""

    def __init__(self, dirs, ver):
        self.dirs = dirs
        self.version = ver

    @classmethod
    def create(cls, name, memory_bytes, cpus):
        """Creates (or takes over) the group gradbook/NAME with these limits; CgroupError says why it cannot."""
        ver = version()
        if ver is None:
            raise CgroupError(f"no cgroup file system at {ROOT}")
        try:
            if ver == 2:
                return cls._create_v2(name, memory_bytes, cpus)
            return cls._create_v1(name, memory_bytes, cpus)
        except OSError as e:
            raise CgroupError(f"cannot create the control group for {name}: {e}") from e

    @classmethod
    def _create_v1(cls, name, memory_bytes, cpus):
        own = _own_paths()
        dirs = []
        for ctl in ("memory", "cpu"):
            path = own.get(ctl, "/")
            d = os.path.join(ROOT, ctl, path.lstrip("/"), "gradbook", name)
            os.makedirs(d, exist_ok=True)
            dirs.append(d)
        mem, cpu = dirs
        if memory_bytes:
            _write(os.path.join(mem, "memory.limit_in_bytes"), int(memory_bytes))
            sw = os.path.join(mem, "memory.memsw.limit_in_bytes")
            if os.path.exists(sw):  # swap does not lift the limit
                _write(sw, int(memory_bytes))
        if cpus:
            _write(os.path.join(cpu, "cpu.cfs_period_us"), PERIOD_US)
            _write(os.path.join(cpu, "cpu.cfs_quota_us"), max(1000, int(cpus * PERIOD_US)))
        return cls(dirs, 1)

    @classmethod
    def _create_v2(cls, name, memory_bytes, cpus):
        # Under the root group (exempt from "no processes in inner groups"), enabling
        # the memory and cpu controllers on the way down.
        top = os.path.join(ROOT, "gradbook")
        os.makedirs(top, exist_ok=True)
        for d in (ROOT, top):
            have = open(os.path.join(d, "cgroup.subtree_control")).read().split()
            need = [c for c in ("memory", "cpu") if c not in have]
            if need:
                _write(os.path.join(d, "cgroup.subtree_control"), " ".join("+" + c for c in need))
        d = os.path.join(top, name)
        os.makedirs(d, exist_ok=True)
        if memory_bytes:
            _write(os.path.join(d, "memory.max"), int(memory_bytes))
            if os.path.exists(os.path.join(d, "memory.swap.max")):
                _write(os.path.join(d, "memory.swap.max"), 0)
        if cpus:
            _write(os.path.join(d, "cpu.max"), f"{max(1000, int(cpus * PERIOD_US))} {PERIOD_US}")
        return cls([d], 2)

    @property
    def procs_files(self):
        return [os.path.join(d, "cgroup.procs") for d in self.dirs]

    def add_self(self):
        """Moves the calling process into the group (called in the child before exec)."""
        pid = str(os.getpid())
        for p in self.procs_files:
            with open(p, "w") as f:
                f.write(pid)

    def pids(self):
        try:
            with open(self.procs_files[0]) as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []

    def limits(self):
        """{'memory_bytes', 'cpus'} as the kernel has them."""
        if self.version == 1:
            mem = int(open(os.path.join(self.dirs[0], "memory.limit_in_bytes")).read())
            quota = int(open(os.path.join(self.dirs[1], "cpu.cfs_quota_us")).read())
            period = int(open(os.path.join(self.dirs[1], "cpu.cfs_period_us")).read())
        else:
            m = open(os.path.join(self.dirs[0], "memory.max")).read().strip()
            mem = None if m == "max" else int(m)
            q, period = open(os.path.join(self.dirs[0], "cpu.max")).read().split()
            quota = -1 if q == "max" else int(q)
            period = int(period)
        return {"memory_bytes": mem, "cpus": None if quota < 0 else quota / period}

    def memory_bytes(self):
        f = "memory.usage_in_bytes" if self.version == 1 else "memory.current"
        return int(open(os.path.join(self.dirs[0], f)).read())

    def kill_all(self, timeout=5.0):
        """Ends every process left in the group (a server's stray kernels and terminals)."""
        end = time.monotonic() + timeout
        while True:
            pids = self.pids()
            if not pids or time.monotonic() > end:
                return pids
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)

    def remove(self):
        for d in self.dirs:
            try:
                os.rmdir(d)
            except OSError:
                pass
