"""bench/lib/cpucap.py -- hold a running server (a process and its children) to a fraction of
one core, with a cgroup's CPU quota, for the benchmark's store-bound rows.

    cap = CpuCap(pid, 'haul-bench-store')  # the process, its children and their threads
    cap.set(0.3)                           # at most 0.3 core from now on
    cap.set(None)                          # no limit (the group stays)
    cap.close()                            # every task back to the root group; the group goes

Why: on a 2-core machine nginx, Redis and the clients share the cores, so the plain loopback
rows compare the clients' CPU cost more than their pipelines.  With the store held to less
than it needs to keep up, the store sets the pace -- as the users' remote Ceph does -- and a
client's keys/s says how well it keeps the store busy at the same number of requests in flight.

Both cgroup versions: v1's `cpu` hierarchy (cpu.cfs_quota_us / cpu.cfs_period_us) where it
is mounted, else the v2 hierarchy (cpu.max), enabling the cpu controller in the root's
cgroup.subtree_control.  Needs root.  Every failure raises CpuCapError with a sentence, so the
caller can skip the rows and say why.  Tasks forked by the server after the constructor join
the group by inheritance (a cgroup's children are born in it)."""
import os

PERIOD_US = 100000


class CpuCapError(Exception):
    pass


def _mounts():
    with open('/proc/self/mounts') as f:
        for line in f:
            _, path, fstype, opts = line.split()[:4]
            yield path, fstype, opts.split(',')


def _tree(pid):
    """pid, its descendants, and all their threads."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            tids = os.listdir('/proc/%d/task' % p)
        except OSError:
            continue
        for t in tids:
            out.append(int(t))
            try:
                with open('/proc/%d/task/%s/children' % (p, t)) as f:
                    todo += [int(c) for c in f.read().split()]
            except OSError:
                pass
    return out


class CpuCap:
    def __init__(self, pid, name):
        self.v1 = next((p for p, fs, o in _mounts() if fs == 'cgroup' and 'cpu' in o), None)
        if self.v1:
            self.root = self.v1
        else:
            self.root = next((p for p, fs, _ in _mounts() if fs == 'cgroup2'), None)
            if not self.root:
                raise CpuCapError('no cgroup hierarchy with a cpu controller is mounted')
            try:
                with open(os.path.join(self.root, 'cgroup.controllers')) as f:
                    if 'cpu' not in f.read().split():
                        raise CpuCapError('the cgroup v2 hierarchy at %s has no cpu controller' % self.root)
                with open(os.path.join(self.root, 'cgroup.subtree_control'), 'w') as f:
                    f.write('+cpu')
            except OSError as e:
                raise CpuCapError('cannot enable the cpu controller in %s: %s' % (self.root, e))
        self.dir = os.path.join(self.root, name)
        try:
            os.makedirs(self.dir, exist_ok=True)
            if self.v1:
                self._write('cpu.cfs_period_us', str(PERIOD_US))
            # v1 moves each thread; v2 the whole process of any thread written
            leaf = 'tasks' if self.v1 else 'cgroup.procs'
            tids = _tree(pid)
            if not tids:
                raise OSError('no such process')
            for t in tids:
                try:
                    self._write(leaf, str(t))
                except OSError:
                    if os.path.exists('/proc/%d' % t):   # gone meanwhile: nothing to hold
                        raise
        except OSError as e:
            self.close()
            raise CpuCapError('cannot put pid %d in %s: %s' % (pid, self.dir, e))

    def _write(self, leaf, text):
        with open(os.path.join(self.dir, leaf), 'w') as f:
            f.write(text)

    def set(self, cores):
        """At most `cores` of one core (None: no limit)."""
        q = -1 if cores is None else max(1000, int(cores * PERIOD_US))
        try:
            if self.v1:
                self._write('cpu.cfs_quota_us', str(q))
            else:
                self._write('cpu.max', '%s %d' % ('max' if q < 0 else q, PERIOD_US))
        except OSError as e:
            raise CpuCapError('cannot set the quota of %s: %s' % (self.dir, e))

    def close(self):
        """Every task back to the root group, and the group removed; quiet if already gone."""
        if not os.path.isdir(self.dir):
            return
        try:
            self.set(None)
        except CpuCapError:
            pass
        leaf = 'tasks' if self.v1 else 'cgroup.procs'
        try:
            with open(os.path.join(self.dir, leaf)) as f:
                ts = f.read().split()
        except OSError:
            ts = []
        for t in ts:
            try:
                with open(os.path.join(self.root, leaf), 'w') as f:
                    f.write(t)
            except OSError:
                pass
        try:
            os.rmdir(self.dir)
        except OSError:
            pass
