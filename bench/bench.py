#!/usr/bin/python3
"""bench.py -- one setting of the benchmark: every contender of the chosen workloads, side
by side, rounds alternating; the rows go to a JSON file that bench/report.py renders.

bench/run.sh makes the hosts (network namespaces), starts Redis, Swift and nginx, seeds the
data, sets the store's delay, and runs this once per setting:
    --setting NAME               e.g. "no delay", "+20 ms"
    --workloads w1,w2,w3,enqueue which parts to run (see bench/README.md)
    --redis URL --redis-pid PID  the Redis every haul process uses (its CPU is read apart)
    --client-ns NS               the host the scheduler, wrk and the Python clients run on
    --hosts NS,NS,...            the hosts for the scale-out (w3); the first is --client-ns
    --swift-auth URL --s3 URL    the real Swift store (tempauth + s3api)
    --nginx URL                  nginx serving workload 2's objects at the same paths
    --notebook DIR --objs DIR    the seeded notebook data / workload 2's keys and expected values
    --work DIR --runs N --warmup N --out FILE.json
Every run's answers are checked before its time counts; a run with a wrong answer is
reported and not counted.
"""
import argparse
import atexit
import csv
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from cpucap import CpuCap, CpuCapError  # noqa: E402 (bench/lib is not a package)

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
PY = '/usr/bin/python3'
WORKER = os.path.join(TOP, 'bin/haul-worker')
SCHED = os.path.join(TOP, 'bin/haul-scheduler')
AWS = '/usr/bin/aws'
BUCKET = 'LSST-IR-FUSION-testfromopenstack'
USER, KEY = 'test:tester', 'testing'
TICK = os.sysconf('SC_CLK_TCK')


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def inns(ns, cmd):
    return ['ip', 'netns', 'exec', ns] + cmd if ns else cmd


def proc_cpu(pid):
    """utime+stime of one process, seconds (0 if gone)."""
    try:
        with open('/proc/%d/stat' % pid, 'rb') as f:
            s = f.read()
    except OSError:
        return 0.0
    rest = s[s.rindex(b')') + 2:].split()
    return (int(rest[11]) + int(rest[12])) / TICK


def env_args(name):
    """Extra command-line options from an environment variable, split on blanks."""
    return os.environ.get(name, '').split()


def proc_kb(pid, field):
    """VmRSS / VmHWM of a process, kB (0 if gone)."""
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Ctx:
    def __init__(self, a):
        self.a = a

    def redis_cli(self, *args):
        return subprocess.run(inns(self.a.client_ns, ['redis-cli', '-u', self.a.redis, *args]),
                              capture_output=True, text=True, timeout=30).stdout.strip()

    def redis_mem(self):
        m = re.search(r'^used_memory:(\d+)', self.redis_cli('INFO', 'memory'), re.M)
        return int(m.group(1)) if m else 0


def timed(cmd, env=None, cwd=None, timeout=None):
    """Run cmd to its end (killed after timeout seconds, if given): (exit code, wall s,
    stdout, stderr, CPU s, peak RSS kB).  `ip netns
    exec` execs the program in place, so wait4's CPU is the program's own.  Its ru_maxrss is
    not: it keeps the high-water mark of the memory the child had before exec (a copy of this
    Python process), so the peak RSS is the program's own VmHWM, sampled every 10 ms by a
    thread until it exits."""
    hwm = [0]
    done = threading.Event()

    def sample(pid):
        while not done.is_set():
            kb = proc_kb(pid, 'VmHWM')
            try:
                with open('/proc/%d/comm' % pid) as fh:
                    own = fh.read().strip() != 'ip'
            except OSError:
                own = False
            if own and kb > hwm[0]:
                hwm[0] = kb
            done.wait(0.01)

    with open(os.devnull, 'rb') as nul, \
            tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, env=env, cwd=cwd, stdin=nul, stdout=fo, stderr=fe)
        th = threading.Thread(target=sample, args=(p.pid,), daemon=True)
        th.start()
        killer = threading.Timer(timeout, p.kill) if timeout else None
        if killer:
            killer.start()
        _, status, ru = os.wait4(p.pid, 0)
        t1 = time.perf_counter()
        if killer:
            killer.cancel()
        done.set()
        th.join()
        p.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        out = fo.read().decode('utf-8', 'replace')
        err = fe.read().decode('utf-8', 'replace')
    return p.returncode, t1 - t0, out, err, ru.ru_utime + ru.ru_stime, hwm[0]


# ---- checks ---------------------------------------------------------------------------------

def write_keys(path, keys):
    with open(path, 'w', encoding='utf-8') as f:
        f.write(''.join(k + '\n' for k in keys))
    return path


def read_keys(path, limit=0):
    with open(path, encoding='utf-8') as f:
        keys = [line.rstrip('\n') for line in f if line.strip()]
    return keys[:limit] if limit else keys


def load_tsv(path):
    exp = {}
    with open(path, encoding='utf-8') as f:
        for line in f:
            k, _, v = line.rstrip('\n').partition('\t')
            exp[k] = v
    return exp


def check_sidecar_csv(path, keys, expected):
    """'' when the CSV holds exactly one ok row per key, in order, with the right value."""
    with open(path, newline='', encoding='utf-8') as f:
        rows = list(csv.DictReader(f))
    if len(rows) != len(keys):
        return '%d rows for %d keys' % (len(rows), len(keys))
    bad = [(i, k, r) for i, (k, r) in enumerate(zip(keys, rows))
           if r.get('key') != k or r.get('status') != 'ok' or (r.get('value') or '') != expected[k]]
    if bad:
        i, k, r = bad[0]
        return '%d wrong rows; first: row %d %s: %r' % (len(bad), i, k, dict(r))
    return ''


def md5_file(path):
    """(size, md5 hex) of a file, read in 8 MiB pieces (hashlib lets go of the GIL while it
    hashes a piece, so threads hash files side by side)."""
    h = hashlib.md5()
    n = 0
    with open(path, 'rb') as f:
        while True:
            b = f.read(8 << 20)
            if not b:
                break
            n += len(b)
            h.update(b)
    return n, h.hexdigest()


def check_files(outdir, keys, expected):
    """'' when every key's file outdir/KEY has the expected size and MD5 (expected: key ->
    "size<TAB>md5"), else how many are wrong and the first one.  Small files are read in this
    thread; files over 64 MiB are hashed two at a time (two cores)."""
    def one(k):
        size, md5 = expected[k].split('\t')
        path = os.path.join(outdir, k)
        try:
            n, got = md5_file(path)
        except OSError as e:
            return str(e)
        if n != int(size) or got != md5:
            return '%s: %d bytes, md5 %s (want %s bytes, md5 %s)' % (path, n, got, size, md5)
        return ''

    big = {k for k in keys if int(expected[k].split('\t')[0]) > 64 << 20}
    problems = [one(k) for k in keys if k not in big]
    if big:
        with ThreadPoolExecutor(2) as pool:
            problems += list(pool.map(one, big))
    bad = [p for p in problems if p]
    return '%d wrong; first: %s' % (len(bad), bad[0]) if bad else ''


def check_tree(outdir, keys, expected):
    """A command-line tool's download: check_files, and no other file under outdir (a
    leftover temporary file, a key written twice under another name)."""
    n = sum(len(files) for _, _, files in os.walk(outdir))
    if n != len(keys):
        return '%d files under %s for %d keys' % (n, outdir, len(keys))
    return check_files(outdir, keys, expected)


def check_get_dir(csvpath, outdir, keys, expected, verified=None):
    """'' when every key has an ok row naming its file (and, with verified, that value in the
    verified column), and every file's size and MD5 are the expected ones (expected: key ->
    "size<TAB>md5")."""
    with open(csvpath, newline='', encoding='utf-8') as f:
        rows = list(csv.DictReader(f))
    if len(rows) != len(keys):
        return '%d rows for %d keys' % (len(rows), len(keys))
    for k, r in zip(keys, rows):
        if r.get('key') != k or r.get('status') != 'ok' or \
                r.get('value') != os.path.join(outdir, k) or \
                (verified and r.get('verified') != verified):
            return 'row for %s: %r' % (k, dict(r))
    return check_files(outdir, keys, expected)


def check_get_inline(csvpath, keys, expected, verified=None):
    """'' when every key has an ok row whose value (the body, inline) has the expected size
    and MD5.  The bodies are bytes, not text: the CSV is read as Latin-1, which maps each byte
    to one character and back."""
    n = bad = 0
    first = ''
    with open(csvpath, newline='', encoding='latin-1') as f:
        for k, r in zip(keys, csv.DictReader(f)):
            n += 1
            body = (r.get('value') or '').encode('latin-1')
            size, md5 = expected[k].split('\t')
            if r.get('key') != k or r.get('status') != 'ok' or len(body) != int(size) or \
                    hashlib.md5(body).hexdigest() != md5 or (verified and r.get('verified') != verified):
                bad += 1
                first = first or '%s: %d bytes, md5 %s, row %r' % (
                    k, len(body), hashlib.md5(body).hexdigest(),
                    {c: v for c, v in r.items() if c != 'value'})
    if n != len(keys):
        return '%d rows for %d keys' % (n, len(keys))
    return '%d wrong; first: %s' % (bad, first) if bad else ''


# ---- haul -----------------------------------------------------------------------------------

class Haul:
    """One haul configuration: its workers (on their hosts, on a queue of their own) live from
    start() to stop(); run() times one `haul-scheduler run` on the client host.  warm: whether
    an untimed run comes first (by default for jobs of up to 10,000 keys).  BENCH_HAUL_ARGS and
    BENCH_HAUL_WORKER_ARGS (environment, split on blanks) are added to every scheduler and
    worker command line, after the row's own options (a later option wins)."""

    def __init__(self, ctx, name, hosts, per_host, concurrency, job_args, env, check,
                 nkeys, batch=None, warm=None, nbytes=None, worker_args=(), store=None):
        self.ctx, self.a = ctx, ctx.a
        self.worker_args, self.store = list(worker_args), store
        self.name, self.hosts, self.per_host, self.conc = name, hosts, per_host, concurrency
        self.job_args, self.env, self.check, self.nkeys = job_args, env, check, nkeys
        self.batch, self.nbytes = batch, nbytes
        self.warm = nkeys <= 10000 if warm is None else warm   # a warm-up pass over a big job would only cost time
        self.queue = 'bench-' + re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')
        self.workers, self.logs = [], []
        self.rss_start = 0
        self.n = 0

    def start(self):
        before = int(self.ctx.redis_cli('ZCARD', 'haul:workers') or 0)
        for h in self.hosts:
            for i in range(self.per_host):
                lf = open(os.path.join(self.a.work, '%s-%s-%d.log' % (self.queue, h or 'lo', i)), 'ab')
                self.logs.append(lf)
                self.workers.append(subprocess.Popen(
                    inns(h, [WORKER, '--redis', self.a.redis, '--queue', self.queue,
                             '--concurrency', str(self.conc), '--name', '%s-%s-%d' % (self.queue, h or 'lo', i),
                             '--out-root', self.a.outroot] + self.worker_args + env_args('BENCH_HAUL_WORKER_ARGS')),
                    stdin=subprocess.DEVNULL, stdout=lf, stderr=lf))
        n = len(self.workers)
        deadline = time.time() + 15
        while time.time() < deadline:
            if int(self.ctx.redis_cli('ZCARD', 'haul:workers') or 0) >= before + n:
                self.rss_start = max(proc_kb(w.pid, 'VmRSS') for w in self.workers)
                return
            if any(w.poll() is not None for w in self.workers):
                break
            time.sleep(0.05)
        raise SystemExit('bench: %s: the workers did not register (see %s/%s-*.log)' % (
            self.name, self.a.work, self.queue))

    def stop(self):
        for w in self.workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
        for w in self.workers:
            try:
                w.wait(timeout=20)
            except subprocess.TimeoutExpired:
                w.kill()
                w.wait()
        for lf in self.logs:
            lf.close()
        self.workers, self.logs = [], []

    def run(self):
        self.n += 1
        out = os.path.join(self.a.work, '%s-%d.csv' % (self.queue, self.n))
        outdir = os.path.join(self.a.outroot, '%s-%d' % (self.queue, self.n)) \
            if '--out-dir' in self.job_args else None
        args = [a if a != '{outdir}' else outdir for a in self.job_args]
        bucket = self.store.new(self.queue) if self.store else None
        if bucket:
            args = [a.replace('{bucket}', bucket) for a in args]
        cmd = inns(self.a.client_ns, [SCHED, 'run', '--redis', self.a.redis, '--queue', self.queue,
                                      '--no-progress', '--out', out] + args +
                   (['--batch', str(self.batch)] if self.batch else []) + env_args('BENCH_HAUL_ARGS'))
        env = dict(os.environ, **self.env)
        w0 = sum(proc_cpu(w.pid) for w in self.workers)
        r0 = proc_cpu(self.a.redis_pid)
        rc, secs, _, err, scpu, srss = timed(cmd, env=env)
        w1 = sum(proc_cpu(w.pid) for w in self.workers)
        r1 = proc_cpu(self.a.redis_pid)
        m = re.search(r'haul: job \S+: .*?, ([0-9.]+) s, ([0-9]+) keys/s', err)
        problem = ''
        if rc != 0:
            problem = 'haul-scheduler exit %d: %s' % (rc, err.strip()[-300:])
        else:
            problem = self.check(out, outdir) or (self.store.check(bucket) if bucket else '')
        if bucket:
            self.store.drop(bucket)
        if not problem:
            os.unlink(out)
        if outdir:
            shutil.rmtree(outdir, ignore_errors=True)
        return {'seconds': secs, 'cpu': (w1 - w0) + scpu, 'sched_cpu': scpu,
                'redis_cpu': r1 - r0, 'keys': self.nkeys, 'bytes': self.nbytes,
                'worker_rss_kb': max(proc_kb(w.pid, 'VmRSS') for w in self.workers),
                'worker_hwm_kb': max(proc_kb(w.pid, 'VmHWM') for w in self.workers),
                'worker_rss_start_kb': self.rss_start,
                'sched_rss_kb': srss,
                'sched_keys_s': float(m.group(2)) if m else None,
                'ok': not problem, 'problem': problem}


# ---- Python contenders and wrk --------------------------------------------------------------

class Python:
    def __init__(self, ctx, name, script, keysfile, expected, nkeys, env, warmup=None):
        self.ctx, self.a = ctx, ctx.a
        self.warmup = ctx.a.warmup if warmup is None else warmup
        self.name, self.script, self.keysfile, self.expected = name, script, keysfile, expected
        self.nkeys, self.env = nkeys, env

    def start(self):
        pass

    def stop(self):
        pass

    def run(self):
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE='1', **self.env)
        env.pop('PYTHONPATH', None)
        env.pop('PYTHONHOME', None)
        cmd = inns(self.a.client_ns, [PY, os.path.join(HERE, 'contenders', self.script),
                                      '--keys', self.keysfile, '--expected', self.expected,
                                      '--runs', '1', '--warmup', str(self.warmup)])
        try:
            p = subprocess.run(cmd, env=env, capture_output=True, text=True,
                               timeout=self.a.timeout, cwd=self.a.work)
        except subprocess.TimeoutExpired:
            return {'seconds': 0, 'cpu': 0, 'ok': False, 'problem': 'timed out after %ds' % self.a.timeout}
        res = [json.loads(x) for x in p.stdout.splitlines() if x.startswith('{')]
        if not res or p.returncode != 0:
            tail = (p.stderr.strip().splitlines() or [''])[-1]
            return {'seconds': 0, 'cpu': 0, 'ok': False,
                    'problem': 'exit %d: %s' % (p.returncode, tail[-300:])}
        return dict(res[-1], keys=self.nkeys)


class HaulPython(Haul):
    """haul's Python client (contenders/haul_client.py) on workers of its own, as a Haul row has
    them: the call timed by the script (after its own warm-up), the workers' CPU counted here and
    added to the script's; `sched_cpu` is the client's own (the Python process), as it is
    haul-scheduler's for the other haul rows, so the two overheads per key compare."""

    def __init__(self, ctx, name, hosts, per_host, concurrency, api, keysfile, expected, nkeys, env):
        super().__init__(ctx, name, hosts, per_host, concurrency, [], env, None, nkeys, warm=False)
        self.api, self.keysfile, self.expected = api, keysfile, expected

    def run(self):
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE='1', PYTHONPATH=os.path.join(TOP, 'python'),
                   BENCH_REDIS=self.a.redis, BENCH_QUEUE=self.queue, BENCH_API=self.api, **self.env)
        env.pop('HAUL_KEY_FILE', None)
        cmd = inns(self.a.client_ns, [PY, '-W', 'ignore', os.path.join(HERE, 'contenders', 'haul_client.py'),
                                      '--keys', self.keysfile, '--expected', self.expected,
                                      '--runs', '1', '--warmup', str(self.a.warmup)])
        w0 = sum(proc_cpu(w.pid) for w in self.workers)
        try:
            p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=self.a.timeout, cwd=self.a.work)
        except subprocess.TimeoutExpired:
            return {'seconds': 0, 'cpu': 0, 'ok': False, 'problem': 'timed out after %ds' % self.a.timeout}
        w1 = sum(proc_cpu(w.pid) for w in self.workers)
        res = [json.loads(x) for x in p.stdout.splitlines() if x.startswith('{')]
        if not res or p.returncode != 0:
            tail = (p.stderr.strip().splitlines() or [''])[-1]
            return {'seconds': 0, 'cpu': 0, 'ok': False, 'problem': 'exit %d: %s' % (p.returncode, tail[-300:])}
        r = res[-1]
        # The workers ran the warm-up too: count their CPU over both calls, halved (the same job twice).
        share = (w1 - w0) / (1 + self.a.warmup)
        return dict(r, keys=self.nkeys, cpu=r['cpu'] + share, sched_cpu=r['cpu'],
                    worker_rss_kb=max(proc_kb(w.pid, 'VmRSS') for w in self.workers),
                    worker_hwm_kb=max(proc_kb(w.pid, 'VmHWM') for w in self.workers),
                    worker_rss_start_kb=self.rss_start)


class Wrk:
    """The ceiling: wrk fetching the same URLs with the same number of connections."""

    def __init__(self, ctx, name, base, pathsfile, conns, seconds, token):
        self.ctx, self.a = ctx, ctx.a
        self.name, self.base, self.pathsfile, self.conns = name, base, pathsfile, conns
        self.seconds, self.token = seconds, token

    def start(self):
        pass

    def stop(self):
        pass

    def run(self):
        cmd = inns(self.a.client_ns, ['wrk', '-t2', '-c%d' % self.conns, '-d%ds' % self.seconds,
                                      '--timeout', '10s', '-s', os.path.join(HERE, 'wrk/urls.lua'),
                                      self.base, '--', self.pathsfile, '', self.token])
        rc, secs, out, err, cpu, _ = timed(cmd)
        m = re.search(r'^wrk-urls: (\{.*\})$', out, re.M)
        if rc != 0 or not m:
            return {'seconds': 0, 'cpu': 0, 'ok': False,
                    'problem': 'wrk exit %d: %s' % (rc, (err or out).strip()[-300:])}
        w = json.loads(m.group(1))
        n, s, errors = int(w['requests']), float(w['seconds']), int(w['errors'])
        if errors or n == 0:
            return {'seconds': 0, 'cpu': 0, 'ok': False,
                    'problem': 'wrk: %d errors in %d requests' % (errors, n)}
        return {'seconds': s, 'cpu': cpu, 'keys': n, 'ok': True, 'problem': ''}


class Capped:
    """A contender whose runs (and warm-ups) happen with the store held to `cores` of one core
    by `cap` (bench/lib/cpucap.py); between runs the store is free.  Everything else -- name,
    warm, max_runs, start, stop -- is the wrapped contender's."""

    def __init__(self, c, cap, cores):
        self.c, self.cap, self.cores = c, cap, cores

    def __getattr__(self, attr):
        return getattr(self.c, attr)

    def run(self):
        self.cap.set(self.cores)
        try:
            return self.c.run()
        finally:
            self.cap.set(None)


class Tool:
    """A command-line contender (curl, rclone, the AWS CLI): one process per run on the client
    host, timed whole by wait4 (wall time from start to exit; its CPU, every thread's; its peak
    RSS), then its download checked: every key's file, its size and MD5, and no other file under
    the output directory.  argv holds '{outdir}' where the run's fresh directory goes."""

    def __init__(self, ctx, name, argv, env, keys, expected, nbytes=None, check=None, max_runs=None,
                 cwd=None, store=None):
        self.ctx, self.a = ctx, ctx.a
        self.cwd, self.store = cwd, store
        self.name, self.argv, self.env, self.keys, self.expected = name, argv, env, keys, expected
        self.nbytes, self.max_runs = nbytes, max_runs
        self.check = check or (lambda outdir, _out: check_tree(outdir, self.keys, self.expected))
        self.slug = 'tool-' + re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')[:60]
        self.n = 0

    def start(self):
        pass

    def stop(self):
        pass

    def run(self):
        self.n += 1
        outdir = os.path.join(self.a.outroot, '%s-%d' % (self.slug, self.n))
        shutil.rmtree(outdir, ignore_errors=True)
        os.makedirs(outdir)
        argv = [x.replace('{outdir}', outdir) for x in self.argv]
        bucket = self.store.new(self.slug) if self.store else None
        if bucket:
            argv = [x.replace('{bucket}', bucket) for x in argv]
        rc, secs, out, err, cpu, rss = timed(inns(self.a.client_ns, argv), env=self.env,
                                             cwd=self.cwd or self.a.work, timeout=self.a.timeout)
        if rc != 0:
            problem = 'exit %d: %s' % (rc, (err.strip() or out.strip())[-300:])
        elif bucket:
            problem = self.store.check(bucket)
        else:
            problem = self.check(outdir, out)
        if bucket:
            self.store.drop(bucket)
        if problem:
            with open(os.path.join(self.a.work, '%s-%d.log' % (self.slug, self.n)), 'w') as f:
                f.write(' '.join(argv) + '\n' + out + err)
        shutil.rmtree(outdir, ignore_errors=True)
        return {'seconds': secs, 'cpu': cpu, 'keys': len(self.keys), 'bytes': self.nbytes,
                'tool_rss_kb': rss, 'ok': not problem, 'problem': problem}


def tool_env(extra):
    """The environment of a command-line contender: this one without AWS_* and RCLONE_*
    variables (a CA bundle or profile set for this machine would change what the tools do),
    plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(('AWS_', 'RCLONE_'))}
    env.update(extra)
    return env


def rclone(a, label, endpoint, bucket, keysfile, access, secret, region, transfers, streams=None):
    """rclone's s3 backend (provider Other, path-style) from a config file of its own."""
    conf = os.path.join(a.work, 'rclone-%s.conf' % label)
    with open(conf, 'w') as f:
        f.write('[store]\ntype = s3\nprovider = Other\naccess_key_id = %s\nsecret_access_key = %s\n'
                'endpoint = %s\nregion = %s\nforce_path_style = true\n' % (access, secret, endpoint, region))
    argv = ['rclone', 'copy', '--files-from-raw', keysfile, '--no-traverse', '--transfers', str(transfers)]
    if streams:
        argv += ['--multi-thread-streams', str(streams)]
    return argv + ['store:' + bucket, '{outdir}'], tool_env({'RCLONE_CONFIG': conf})


def aws_cli(a, label, endpoint, src, dst, access, secret, region, conc, recursive):
    """Debian's AWS CLI (/usr/bin/aws: the first aws on PATH may be another), path-style,
    max_concurrent_requests conc, from a config file of its own; errors only on its output."""
    conf = os.path.join(a.work, 'aws-%s.config' % label)
    with open(conf, 'w') as f:
        f.write('[default]\nregion = %s\ns3 =\n  addressing_style = path\n  max_concurrent_requests = %d\n'
                % (region, conc))
    argv = [AWS, '--endpoint-url', endpoint, 's3', 'cp', '--only-show-errors'] + \
        (['--recursive'] if recursive else []) + [src, '{outdir}/' + dst]
    return argv, tool_env({'AWS_CONFIG_FILE': conf, 'AWS_SHARED_CREDENTIALS_FILE': '/dev/null',
                           'AWS_ACCESS_KEY_ID': access, 'AWS_SECRET_ACCESS_KEY': secret})


def top_prefix(keys):
    """The one top-level 'directory' all keys are under (the AWS CLI copies a prefix)."""
    first = keys[0].split('/')[0] + '/'
    if not all(k.startswith(first) for k in keys):
        raise SystemExit('bench: the keys are not all under %s' % first)
    return first


# ---- the workloads --------------------------------------------------------------------------

def swift_env(auth):
    return {'ST_AUTH': auth, 'ST_USER': USER, 'ST_KEY': KEY}


def s3_env():
    return {'AWS_ACCESS_KEY_ID': USER, 'AWS_SECRET_ACCESS_KEY': KEY}


def workload1(ctx, a):
    """The notebook's: 800 keys (the 80-key listing x10), sidecar, on the real Swift."""
    keys = read_keys(os.path.join(a.notebook, 'notebook-keys.txt')) * 10
    keysfile = write_keys(os.path.join(a.work, 'w1-keys.txt'), keys)
    expfile = os.path.join(a.notebook, 'notebook-expected.tsv')
    expected = load_tsv(expfile)

    def chk(out, _outdir):
        return check_sidecar_csv(out, keys, expected)

    host = [a.client_ns]
    cs = []
    for n in a.w1_workers:
        cs.append(Haul(ctx, 'haul S3, %d worker%s x %d' % (n, 's' if n > 1 else '', a.w1_conc), host, n,
                       a.w1_conc, ['--s3', a.s3, '--bucket', BUCKET, '--keys', keysfile, '--op', 'sidecar'],
                       s3_env(), chk, len(keys)))
    for n in a.w1_workers:
        cs.append(Haul(ctx, 'haul Swift, %d worker%s x %d' % (n, 's' if n > 1 else '', a.w1_conc), host, n,
                       a.w1_conc, ['--swift', '--container', BUCKET, '--keys', keysfile, '--op', 'sidecar'],
                       swift_env(a.swift_auth), chk, len(keys)))
    penv = {'BENCH_S3': a.s3, 'BENCH_ST_AUTH': a.swift_auth, 'BENCH_USER': USER, 'BENCH_KEY': KEY,
            'BENCH_BUCKET': BUCKET}
    for name, script in [('pandas + boto3 (serial, the notebook)', 'pandas_boto3.py'),
                         ('boto3 + 32 threads', 'boto3_threads.py'),
                         ('pandas + swiftclient (serial)', 'pandas_swift.py'),
                         ('Dask LocalCluster 2x4 + swiftclient', 'dask_swift.py')]:
        cs.append(Python(ctx, name, script, keysfile, expfile, len(keys), penv))
    # haul from the notebook: the Python client, beside haul-scheduler with the same workers (2 x conc).
    for api, env in (('swift', {}), ('s3', {})):
        cs.append(HaulPython(ctx, 'haul Python client %s, 2 workers x %d' % ('Swift' if api == 'swift' else 'S3',
                                                                             a.w1_conc),
                             host, 2, a.w1_conc, api, keysfile, expfile, len(keys), dict(penv, **env)))
    return 'w1', cs


def workload2(ctx, a):
    """Scale: many small objects, get, against nginx standing in for the store."""
    keys = read_keys(os.path.join(a.objs, 'keys.txt'), a.w2_keys)
    expected = load_tsv(os.path.join(a.objs, 'expected.tsv'))
    keysfile = write_keys(os.path.join(a.work, 'w2-keys.txt'), keys)
    sub = keys[:a.py_keys]
    subfile = write_keys(os.path.join(a.work, 'w2-py-keys.txt'), sub)
    pathsfile = write_keys(os.path.join(a.work, 'w2-paths.txt'),
                           ['/v1/AUTH_test/%s/%s' % (a.w2_bucket, k) for k in keys])

    def chk(out, outdir):
        return check_get_dir(out, outdir, keys, expected)

    conns = a.w2_workers * a.w2_conc
    cs = [Wrk(ctx, 'ceiling: wrk, %d connections' % conns, a.nginx, pathsfile, conns,
              a.wrk_seconds, 'AUTH_tkbench')]
    getargs = ['--op', 'get', '--max-inline', '0', '--out-dir', '{outdir}', '--no-check',
               '--keys', keysfile]
    cs.append(Haul(ctx, 'haul Swift, %d workers x %d' % (a.w2_workers, a.w2_conc), [a.client_ns],
                   a.w2_workers, a.w2_conc, ['--swift', '--container', a.w2_bucket] + getargs,
                   swift_env(a.nginx + '/auth/v1.0'), chk, len(keys), batch=a.w2_batch))
    penv = {'BENCH_S3': a.nginx, 'BENCH_ST_AUTH': a.nginx + '/auth/v1.0', 'BENCH_USER': USER,
            'BENCH_KEY': KEY, 'BENCH_BUCKET': a.w2_bucket}
    exp2 = os.path.join(a.objs, 'expected.tsv')
    # No warm-up run for these (a whole pass over thousands of keys); sessions are still made
    # before the timed part.
    cs.append(Python(ctx, 'boto3 + 32 threads (%d keys)' % len(sub), 'boto3_threads_get.py', subfile,
                     exp2, len(sub), penv, warmup=0))
    dsub = sub[:max(1, len(sub) // a.dask_div)]
    dfile = write_keys(os.path.join(a.work, 'w2-dask-keys.txt'), dsub)
    cs.append(Python(ctx, 'Dask 2x4 + swiftclient (%d keys)' % len(dsub), 'dask_swift_get.py', dfile,
                     exp2, len(dsub), penv, warmup=0))
    return 'w2', cs


def workload2plain(ctx, a):
    """Workload 2 on plain loopback: no namespaces, nginx with one worker process and MD5
    ETags, a redis-server of its own (run.sh passes these as the setting's --nginx, --redis).
    haul's Swift rows use a pre-issued token; its S3 row, rclone and the AWS CLI sign SigV4
    (nginx checks no signature).  The AWS CLI copies a prefix: it runs on the bucket
    --aws-bucket, which holds the first --aws-keys of the keys (run.sh links them, and writes
    its listing pages)."""
    keys = read_keys(os.path.join(a.objs, 'keys.txt'), a.w2_keys)
    expected = load_tsv(os.path.join(a.objs, 'expected.tsv'))
    keysfile = write_keys(os.path.join(a.work, 'w2plain-keys.txt'), keys)
    pathsfile = write_keys(os.path.join(a.work, 'w2plain-paths.txt'),
                           ['/v1/AUTH_test/%s/%s' % (a.w2_bucket, k) for k in keys])
    conc = a.w2_workers * a.w2_conc
    workers = '%d workers x %d' % (a.w2_workers, a.w2_conc)
    swift = ['--swift', '--token', a.token, '--storage-url', a.nginx + '/v1/AUTH_test',
             '--container', a.w2_bucket]
    get = ['--op', 'get', '--no-check', '--keys', keysfile]
    files = ['--max-inline', '0', '--out-dir', '{outdir}']

    def inline(verified):
        return lambda out, _outdir: check_get_inline(out, keys, expected, verified)

    def tofiles(verified):
        return lambda out, outdir: check_get_dir(out, outdir, keys, expected, verified)

    def ceiling():
        return Wrk(ctx, 'ceiling: wrk, %d connections' % conc, a.nginx, pathsfile, conc, a.wrk_seconds, a.token)

    def swift_row(where, suffix='', extra=(), verified='md5'):
        """haul Swift, bodies 'inline' or 'to files', with more options and the verified value
        its rows must say."""
        tf = where == 'to files'
        return Haul(ctx, 'haul Swift, %s, %s%s' % (workers, where, suffix), [a.client_ns], a.w2_workers,
                    a.w2_conc, swift + get + (files if tf else []) + list(extra), {},
                    (tofiles if tf else inline)(verified), len(keys), batch=a.w2_batch)

    cs = [ceiling()]
    # Then each again with --ignore-checksum: no MD5 of the bodies, as wrk (the bench still
    # checks every body).
    for suffix, extra, verified in (('', [], 'md5'), (', --ignore-checksum', ['--ignore-checksum'], 'none')):
        cs += [swift_row('inline', suffix, extra, verified), swift_row('to files', suffix, extra, verified)]
    cs.append(Haul(ctx, 'haul S3, %s, to files' % workers, [a.client_ns], a.w2_workers, a.w2_conc,
                   ['--s3', a.nginx, '--bucket', a.w2_bucket] + get + files, s3_env(), tofiles('md5'),
                   len(keys), batch=a.w2_batch))
    cs += cli_rows(ctx, a, 'w2plain', a.nginx, a.w2_bucket, keys, expected, USER, KEY, 'us-east-1', conc,
                   a.rclone_keys, a.aws_keys, a.aws_bucket, a.tool_runs)
    if not a.store_cap:
        return 'w2', cs
    # Store-bound: the same ceiling and haul rows again with nginx held to --store-cap of one
    # core, so that the store and not the client sets the pace (bench/lib/cpucap.py).
    try:
        cap = CpuCap(a.store_pid, 'haul-bench-store-%d' % os.getpid())
    except CpuCapError as e:
        log('bench: no store-bound rows: %s' % e)
        return 'w2', cs
    atexit.register(cap.close)
    capped = [ceiling(), swift_row('to files'), swift_row('inline')]
    return [('w2', cs), ('w2cap', [Capped(c, cap, a.store_cap) for c in capped])]


def cli_rows(ctx, a, label, endpoint, bucket, keys, expected, access, secret, region, conc,
             rclone_keys, aws_keys, aws_bucket, max_runs=None):
    """rclone and the AWS CLI on small objects, conc transfers / requests at once: rclone on
    the first rclone_keys keys (0: all), the AWS CLI on the first aws_keys, which are the whole
    of bucket aws_bucket (0: all keys, the whole of bucket); each in at most max_runs of the
    rounds (None: every one)."""
    cs = []
    rk = keys[:rclone_keys] if rclone_keys else keys
    rkfile = write_keys(os.path.join(a.work, '%s-rclone-keys.txt' % label), rk)
    argv, env = rclone(a, label, endpoint, bucket, rkfile, access, secret, region, conc)
    cs.append(Tool(ctx, 'rclone copy, --transfers %d%s' % (conc, '' if rk is keys else ' (%d keys)' % len(rk)),
                   argv, env, rk, expected, max_runs=max_runs))
    ak = keys[:aws_keys] if aws_keys else keys
    abucket = aws_bucket if aws_keys else bucket
    pre = top_prefix(ak)
    argv, env = aws_cli(a, label, endpoint, 's3://%s/%s' % (abucket, pre), pre, access, secret, region,
                        conc, True)
    cs.append(Tool(ctx, 'aws s3 cp --recursive, max_concurrent_requests %d%s' % (
        conc, '' if ak is keys else ' (%d keys)' % len(ak)), argv, env, ak, expected, max_runs=max_runs))
    return cs


def workload4(ctx, a):
    """Large objects (bench/lib/bigobjs.sh: 4 x 1 GiB and 1 x 4 GiB by default), get to files
    on tmpfs, from an nginx of their own on the store host (MD5 ETags, a static listing for the
    AWS CLI).  Two groups: one object alone (w4one: curl's single stream beside the others),
    and every object at once (w4).  S3 for all; haul's tasks hold one key each (--batch 1), so
    both workers take some."""
    keys = read_keys(os.path.join(a.big, 'keys.txt'))
    expected = load_tsv(os.path.join(a.big, 'expected.tsv'))
    size = {k: int(expected[k].split('\t')[0]) for k in keys}
    one = [keys[a.w4_one]]
    groups = []
    for wl, ks in (('w4one', one), ('w4', keys)):
        nbytes = sum(size[k] for k in ks)
        what = '%d object%s, %s' % (len(ks), 's' if len(ks) > 1 else '', human(nbytes))
        kfile = write_keys(os.path.join(a.work, '%s-keys.txt' % wl), ks)

        def tofiles(verified, ks=ks):
            return lambda out, outdir: check_get_dir(out, outdir, ks, expected, verified)

        cs = []
        if wl == 'w4one':
            def size_only(_outdir, out, n=nbytes):
                return '' if out.strip() == str(n) else 'curl fetched %s bytes, not %d' % (out.strip(), n)
            cs.append(Tool(ctx, 'reference: curl -o /dev/null (no file; size checked)',
                           ['curl', '-sS', '--fail', '-o', '/dev/null', '-w', '%{size_download}',
                            '%s/%s/%s' % (a.big_url, a.big_bucket, ks[0])],
                           tool_env({}), ks, expected, nbytes=nbytes, check=size_only))
            def one_file(outdir, _out, n=nbytes):
                try:
                    got = os.path.getsize(os.path.join(outdir, 'zeros'))
                except OSError as e:
                    return str(e)
                return '' if got == n else 'dd wrote %d bytes, not %d' % (got, n)
            cs.append(Tool(ctx, 'reference: dd to a file on tmpfs (no network; size checked)',
                           ['dd', 'if=/dev/zero', 'of={outdir}/zeros', 'bs=1M', 'count=%d' % (nbytes >> 20)],
                           tool_env({}), ks, expected, nbytes=nbytes, check=one_file))
            cs.append(Tool(ctx, 'curl -o (one stream)',
                           ['curl', '-sS', '--fail', '--create-dirs', '-o', '{outdir}/' + ks[0],
                            '%s/%s/%s' % (a.big_url, a.big_bucket, ks[0])],
                           tool_env({}), ks, expected, nbytes=nbytes))
        for suffix, extra, verified in (('', [], 'md5'), (', --ignore-checksum', ['--ignore-checksum'], 'none')):
            cs.append(Haul(ctx, 'haul S3, %d workers x %d%s (%s)' % (a.w4_workers, a.w4_conc, suffix, what),
                           [a.client_ns], a.w4_workers, a.w4_conc,
                           ['--s3', a.big_url, '--bucket', a.big_bucket, '--op', 'get', '--keys', kfile,
                            '--max-inline', '0', '--out-dir', '{outdir}', '--no-check'] + extra,
                           s3_env(), tofiles(verified), len(ks), batch=1, warm=False, nbytes=nbytes))
        argv, env = rclone(a, wl, a.big_url, a.big_bucket, kfile, USER, KEY, 'us-east-1', len(ks),
                           streams=a.w4_streams)
        cs.append(Tool(ctx, 'rclone copy, --transfers %d --multi-thread-streams %d' % (len(ks), a.w4_streams),
                       argv, env, ks, expected, nbytes=nbytes))
        if len(ks) == 1:
            argv, env = aws_cli(a, wl, a.big_url, 's3://%s/%s' % (a.big_bucket, ks[0]), ks[0], USER, KEY,
                                'us-east-1', a.w4_aws_conc, False)
        else:
            pre = top_prefix(ks)
            argv, env = aws_cli(a, wl, a.big_url, 's3://%s/%s' % (a.big_bucket, pre), pre, USER, KEY,
                                'us-east-1', a.w4_aws_conc, True)
        cs.append(Tool(ctx, 'aws s3 cp%s, max_concurrent_requests %d' % (
            '' if len(ks) == 1 else ' --recursive', a.w4_aws_conc), argv, env, ks, expected, nbytes=nbytes))
        groups.append((wl, cs))
    return groups


def workload_rgw(ctx, a):
    """A real Ceph RGW (tests/lib/rgw.sh, on loopback): the first --rgw-keys small objects,
    uploaded by run.sh, fetched to files over S3 by haul, rclone and the AWS CLI with as many
    requests in flight."""
    keys = read_keys(os.path.join(a.objs, 'keys.txt'), a.rgw_keys)
    expected = load_tsv(os.path.join(a.objs, 'expected.tsv'))
    keysfile = write_keys(os.path.join(a.work, 'rgw-keys.txt'), keys)
    conc = a.w2_workers * a.w2_conc
    env = {'AWS_ACCESS_KEY_ID': a.rgw_access_key, 'AWS_SECRET_ACCESS_KEY': a.rgw_secret_key}

    def tofiles(out, outdir):
        return check_get_dir(out, outdir, keys, expected, 'md5')

    cs = [Haul(ctx, 'haul S3, %d workers x %d, to files' % (a.w2_workers, a.w2_conc), [a.client_ns],
               a.w2_workers, a.w2_conc,
               ['--s3', a.rgw_s3, '--region', a.rgw_region, '--bucket', a.rgw_bucket, '--op', 'get',
                '--keys', keysfile, '--max-inline', '0', '--out-dir', '{outdir}'],
               env, tofiles, len(keys), batch=a.w2_batch)]
    cs += cli_rows(ctx, a, 'rgw', a.rgw_s3, a.rgw_bucket, keys, expected, a.rgw_access_key,
                   a.rgw_secret_key, a.rgw_region, conc, 0, a.rgw_aws_keys, a.rgw_aws_bucket)
    return 'rgw', cs


class Store:
    """The write rows' containers on the real Swift (bench/lib/putstore.py, run on the client
    host): a fresh one before each run (named after the row, emptied first if a run before left
    it), the check after (a listing: every file's key once, its size, its ETag the MD5 -- or,
    for an S3 multipart upload, the multipart ETag of the file in the tool's part size -- and
    nothing else), then its objects deleted, so that no run sees another's."""

    def __init__(self, ctx, expected, etags):
        self.ctx, self.a = ctx, ctx.a
        self.expected, self.etags = expected, etags

    def _call(self, *args):
        cmd = inns(self.a.client_ns, [PY, os.path.join(HERE, 'lib/putstore.py')] + list(args))
        p = subprocess.run(cmd, env=dict(os.environ, **swift_env(self.a.swift_auth)),
                           capture_output=True, text=True, timeout=1800)
        if p.returncode != 0:
            raise SystemExit('bench: putstore.py %s: %s' % (' '.join(args[:2]), p.stderr.strip()[-300:]))
        return p.stdout.strip()

    def new(self, slug):
        name = 'wput-%s' % hashlib.md5(slug.encode()).hexdigest()[:12]
        self._call('new', name)
        return name

    def check(self, name):
        return self._call('check', name, self.expected, *([self.etags] if self.etags else []))

    def drop(self, name):
        self._call('drop', name)


def check_put_csv(path, keys, expected):
    """'' when a put's CSV holds one ok row per file (in any order), with the file's size and
    MD5 in size and md5, and verified md5 (the store's ETag was the MD5 sent)."""
    with open(path, newline='', encoding='utf-8') as f:
        rows = list(csv.DictReader(f))
    if len(rows) != len(keys):
        return '%d rows for %d files' % (len(rows), len(keys))
    want = set(keys)
    for r in rows:
        k = r.get('key')
        if k not in want:
            return 'row for a key not among the files (or twice): %r' % dict(r)
        want.discard(k)
        size, md5 = expected[k].split('\t')
        if r.get('status') != 'ok' or r.get('size') != size or r.get('md5') != md5 or \
                r.get('verified') != 'md5':
            return 'row for %s: %r (want size %s, md5 %s)' % (k, dict(r), size, md5)
    return ''


def workload_put(ctx, a):
    """The write side (issue 10): --wput DIR holds small/ (bench/lib/smallobjs.py: keys.txt,
    expected.tsv, the files under src/small/) and big/ (bench/lib/bigobjs.sh: src/big/, plus
    etags.tsv, the files' S3 multipart ETags in rclone's and the AWS CLI's part sizes).  Each
    tree is uploaded whole to a fresh container of the real Swift (tempauth + s3api) by haul over
    S3 and over Swift (2 workers x --wput-conc, --in-root DIR, --op put --from-dir), rclone copy
    (S3), swift upload (python-swiftclient, Swift API) and aws s3 cp --recursive (S3), each with
    as many transfers at once; every run's container is listed and checked, then emptied."""
    groups = []
    conc = a.w2_workers * a.wput_conc
    workers = '%d workers x %d' % (a.w2_workers, a.wput_conc)
    for wl, sub in (('wput', 'small'), ('wputbig', 'big')):
        root = os.path.join(a.wput, sub)
        if not a.wput or not os.path.exists(os.path.join(root, 'keys.txt')):
            continue
        keys = read_keys(os.path.join(root, 'keys.txt'))
        expfile = os.path.join(root, 'expected.tsv')
        expected = load_tsv(expfile)
        etags = os.path.join(root, 'etags.tsv')
        store = Store(ctx, expfile, etags if os.path.exists(etags) else '')
        nbytes = sum(int(expected[k].split('\t')[0]) for k in keys)
        src = os.path.join(root, 'src')
        top = top_prefix(keys)                          # 'small/' or 'big/'
        tree = os.path.join(src, top.rstrip('/'))
        what = '%d files, %s' % (len(keys), human(nbytes))
        batch = 1 if wl == 'wputbig' else a.w2_batch    # a big file a task: both workers take some

        def chk(out, _outdir, keys=keys, expected=expected):
            return check_put_csv(out, keys, expected)

        put = ['--op', 'put', '--from-dir', tree, '--prefix', top]
        cs = [Haul(ctx, 'haul S3, %s (%s)' % (workers, what), [a.client_ns], a.w2_workers, a.wput_conc,
                   ['--s3', a.s3, '--bucket', '{bucket}'] + put, s3_env(), chk, len(keys), batch=batch,
                   warm=False, nbytes=nbytes, worker_args=['--in-root', a.wput], store=store),
              Haul(ctx, 'haul Swift, %s (%s)' % (workers, what), [a.client_ns], a.w2_workers, a.wput_conc,
                   ['--swift', '--container', '{bucket}'] + put, swift_env(a.swift_auth), chk, len(keys),
                   batch=batch, warm=False, nbytes=nbytes, worker_args=['--in-root', a.wput], store=store)]
        conf = os.path.join(a.work, 'rclone-%s.conf' % wl)
        with open(conf, 'w') as f:
            f.write('[store]\ntype = s3\nprovider = Other\naccess_key_id = %s\nsecret_access_key = %s\n'
                    'endpoint = %s\nregion = us-east-1\nforce_path_style = true\n' % (USER, KEY, a.s3))
        cs.append(Tool(ctx, 'rclone copy, --transfers %d' % conc,
                       ['rclone', 'copy', '--transfers', str(conc), tree, 'store:{bucket}/' + top.rstrip('/')],
                       tool_env({'RCLONE_CONFIG': conf}), keys, expected, nbytes=nbytes, store=store))
        cs.append(Tool(ctx, 'swift upload, --object-threads %d' % conc,
                       ['swift', 'upload', '--object-threads', str(conc), '{bucket}', top.rstrip('/')],
                       tool_env(swift_env(a.swift_auth)), keys, expected, nbytes=nbytes, cwd=src, store=store))
        conf = os.path.join(a.work, 'aws-%s.config' % wl)
        with open(conf, 'w') as f:
            f.write('[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n'
                    '  max_concurrent_requests = %d\n' % conc)
        cs.append(Tool(ctx, 'aws s3 cp --recursive, max_concurrent_requests %d' % conc,
                       [AWS, '--endpoint-url', a.s3, 's3', 'cp', '--only-show-errors', '--recursive', tree,
                        's3://{bucket}/' + top],
                       tool_env({'AWS_CONFIG_FILE': conf, 'AWS_SHARED_CREDENTIALS_FILE': '/dev/null',
                                 'AWS_ACCESS_KEY_ID': USER, 'AWS_SECRET_ACCESS_KEY': KEY}),
                       keys, expected, nbytes=nbytes, store=store))
        groups.append((wl, cs))
    return groups


def human(n):
    for unit, k in (('GiB', 30), ('MiB', 20), ('KiB', 10)):
        if n >= 1 << k:
            v = n / (1 << k)
            return ('%d %s' if v == int(v) else '%.1f %s') % (v, unit)
    return '%d bytes' % n


def workload3(ctx, a):
    """Scale-out: one worker on each of 1, 2 and 4 hosts."""
    keys = read_keys(os.path.join(a.objs, 'keys.txt'), a.w3_keys)
    expected = load_tsv(os.path.join(a.objs, 'expected.tsv'))
    keysfile = write_keys(os.path.join(a.work, 'w3-keys.txt'), keys)

    def chk(out, outdir):
        return check_get_dir(out, outdir, keys, expected)

    cs = []
    getargs = ['--op', 'get', '--max-inline', '0', '--out-dir', '{outdir}', '--no-check',
               '--keys', keysfile, '--swift', '--container', a.w2_bucket]
    for n in (1, 2, 4):
        hosts = a.hosts[:n]
        if len(hosts) < n:
            continue
        cs.append(Haul(ctx, 'haul Swift, %d host%s x 1 worker x %d' % (n, 's' if n > 1 else '', a.w3_conc),
                       hosts, 1, a.w3_conc, getargs, swift_env(a.nginx + '/auth/v1.0'), chk, len(keys),
                       batch=a.w2_batch))
    return 'w3', cs


def enqueue(ctx, a):
    """The scheduler's submit alone (no worker on the queue): keys/s into Redis, and Redis
    memory per queued key, in the clear and sealed. --max-queued 0: the whole job is queued at
    once (with the default window, submit would wait for workers to take tasks)."""
    keys = read_keys(os.path.join(a.objs, 'keys.txt'))
    keysfile = write_keys(os.path.join(a.work, 'enqueue-keys.txt'), keys)
    keyfile = os.path.join(a.work, 'bench.key')
    if not os.path.exists(keyfile):
        subprocess.run([SCHED, 'keygen', keyfile], capture_output=True, check=True)
    rows = []
    for label, extra in [('in the clear', []), ('sealed (--key-file)', ['--key-file', keyfile])]:
        for batch in (16, 64):
            res = []
            for _ in range(a.runs):
                q = 'bench-enqueue'
                ctx.redis_cli('DEL', 'haul:q:' + q)
                m0 = ctx.redis_mem()
                cmd = inns(a.client_ns, [SCHED, 'submit', '--redis', a.redis, '--queue', q, '--swift',
                                         '--container', a.w2_bucket, '--keys', keysfile, '--op', 'get',
                                         '--no-check', '--batch', str(batch), '--max-queued', '0'] + extra)
                rc, secs, out, err, cpu, rss = timed(cmd, env=dict(os.environ, **swift_env(a.nginx + '/auth/v1.0')))
                m1 = ctx.redis_mem()
                qlen = int(ctx.redis_cli('LLEN', 'haul:q:' + q) or 0)
                job = out.strip()
                ctx.redis_cli('DEL', 'haul:q:' + q, 'haul:job:' + job)
                ctx.redis_cli('ZREM', 'haul:jobs', job)
                want = -(-len(keys) // batch)
                ok = rc == 0 and qlen == want
                res.append({'seconds': secs, 'cpu': cpu, 'keys': len(keys), 'ok': ok, 'sched_rss_kb': rss,
                            'problem': '' if ok else 'exit %d, %d tasks queued (want %d): %s' % (
                                rc, qlen, want, err.strip()[-200:]),
                            'redis_bytes_per_key': (m1 - m0) / len(keys)})
            rows.append({'workload': 'enqueue', 'setting': a.setting,
                         'contender': 'haul-scheduler submit, %s, --batch %d' % (label, batch),
                         'runs': res})
            good = [r for r in res if r['ok']]
            log('  enqueue %-40s %s' % (rows[-1]['contender'], '%.0f keys/s, %.0f Redis bytes/key' % (
                len(keys) / sorted(r['seconds'] for r in good)[len(good) // 2],
                sorted(r['redis_bytes_per_key'] for r in good)[len(good) // 2]) if good else 'FAILED'))
    return rows


def run_workload(a, wl, contenders, runs=None):
    """Warm up each contender, then R rounds, the order rotated each round."""
    runs = runs or a.runs
    rows = {c.name: {'workload': wl, 'setting': a.setting, 'contender': c.name, 'runs': []}
            for c in contenders}
    live = []
    try:
        for c in contenders:
            c.start()
            live.append(c)
            for _ in range(a.warmup if getattr(c, 'warm', False) else 0):
                r = c.run()
                if not r['ok']:
                    log('bench: %s %s warm-up: %s' % (a.setting, c.name, r['problem']))
        for rnd in range(runs):
            k = rnd % len(contenders)
            for c in contenders[k:] + contenders[:k]:
                if rnd >= (getattr(c, 'max_runs', None) or runs):
                    continue
                r = c.run()
                r['round'] = rnd + 1
                rows[c.name]['runs'].append(r)
                if not r['ok']:
                    what = 'FAILED: ' + r['problem']
                elif r.get('bytes'):
                    what = '%.3f s  %6.0f MiB/s  cpu %.3f s' % (r['seconds'], r['bytes'] / r['seconds'] / 2**20, r['cpu'])
                    if wl.startswith('wput'):
                        what += '  %.0f files/s' % (r['keys'] / r['seconds'])
                else:
                    what = '%.3f s  %6.0f keys/s  cpu %.3f s' % (r['seconds'], r['keys'] / r['seconds'], r['cpu'])
                log('  %-6s %-9s round %d  %-50s %s' % (wl, a.setting, rnd + 1, c.name, what))
    finally:
        for c in live:
            c.stop()
    return list(rows.values())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--setting', required=True)
    ap.add_argument('--workloads', default='w1,w2,w3,enqueue')
    ap.add_argument('--redis', required=True)
    ap.add_argument('--redis-pid', type=int, default=0)
    ap.add_argument('--client-ns', default='')
    ap.add_argument('--hosts', default='')
    ap.add_argument('--swift-auth', default='')
    ap.add_argument('--s3', default='')
    ap.add_argument('--nginx', default='')
    ap.add_argument('--token', default='AUTH_tkbench', help='Swift token for nginx (w2plain)')
    ap.add_argument('--store-pid', type=int, default=0, help='w2plain: the pid of nginx (its master)')
    ap.add_argument('--store-cap', type=float, default=0,
                    help='w2plain: store-bound rows with nginx held to this much of one core (0: none)')
    ap.add_argument('--notebook', default='')
    ap.add_argument('--objs', default='')
    ap.add_argument('--work', required=True)
    ap.add_argument('--outroot', default='/dev/shm')
    ap.add_argument('--runs', type=int, default=5)
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--timeout', type=int, default=600)
    ap.add_argument('--only', default='')
    ap.add_argument('--w1-workers', default='1,2,4')
    ap.add_argument('--w1-conc', type=int, default=32)
    ap.add_argument('--w2-bucket', default='smallobjs')
    ap.add_argument('--w2-keys', type=int, default=0)
    ap.add_argument('--w2-workers', type=int, default=2)
    ap.add_argument('--w2-conc', type=int, default=32)
    ap.add_argument('--w2-batch', type=int, default=64)
    ap.add_argument('--wrk-seconds', type=int, default=5)
    ap.add_argument('--py-keys', type=int, default=20000)
    ap.add_argument('--dask-div', type=int, default=2)
    ap.add_argument('--rclone-keys', type=int, default=0, help='w2plain: rclone on the first N keys (0: all)')
    ap.add_argument('--aws-keys', type=int, default=0, help='w2plain: the AWS CLI on the first N keys, '
                    'the whole of --aws-bucket (0: all keys, the whole of --w2-bucket)')
    ap.add_argument('--aws-bucket', default='')
    ap.add_argument('--tool-runs', type=int, default=0, help='w2plain: rclone and the AWS CLI in the first '
                    'N rounds only (0: every round)')
    ap.add_argument('--w3-keys', type=int, default=30000)
    ap.add_argument('--w3-conc', type=int, default=64)
    ap.add_argument('--big', default='', help='w4: the objects\' directory (keys.txt, expected.tsv)')
    ap.add_argument('--big-url', default='', help='w4: their nginx')
    ap.add_argument('--big-bucket', default='bigobjs')
    ap.add_argument('--w4-one', type=int, default=0, help='w4one: which of the keys (0: the first)')
    ap.add_argument('--w4-workers', type=int, default=2)
    ap.add_argument('--w4-conc', type=int, default=32)
    ap.add_argument('--w4-streams', type=int, default=4, help="rclone's --multi-thread-streams")
    ap.add_argument('--w4-aws-conc', type=int, default=10, help="the AWS CLI's max_concurrent_requests")
    ap.add_argument('--w4-runs', type=int, default=3, help='w4one: runs')
    ap.add_argument('--w4-all-runs', type=int, default=1, help='w4 (every object at once): runs')
    ap.add_argument('--rgw-s3', default='')
    ap.add_argument('--rgw-region', default='default')
    ap.add_argument('--rgw-bucket', default='smallobjs')
    ap.add_argument('--rgw-access-key', default='')
    ap.add_argument('--rgw-secret-key', default='')
    ap.add_argument('--rgw-keys', type=int, default=20000)
    ap.add_argument('--rgw-aws-keys', type=int, default=0)
    ap.add_argument('--rgw-aws-bucket', default='')
    ap.add_argument('--rgw-runs', type=int, default=3)
    ap.add_argument('--wput', default='', help='wput: the trees to upload (small/, big/: see workload_put)')
    ap.add_argument('--wput-conc', type=int, default=32, help='wput: 2 workers x this; the tools 2 x this at once')
    ap.add_argument('--wput-runs', type=int, default=0, help='wput: runs (0: --runs)')
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    a.w1_workers = [int(x) for x in a.w1_workers.split(',') if x]
    a.hosts = [h for h in a.hosts.split(',') if h] or [a.client_ns]
    only = [s.strip().lower() for s in a.only.split(',') if s.strip()]
    ctx = Ctx(a)
    rows = []
    make = {'w1': workload1, 'w2': workload2, 'w3': workload3, 'w2plain': workload2plain,
            'w4': workload4, 'rgw': workload_rgw, 'wput': workload_put}
    runs = {'w4': a.w4_all_runs, 'w4one': a.w4_runs, 'rgw': a.rgw_runs,
            'wput': a.wput_runs or a.runs, 'wputbig': a.wput_runs or a.runs}
    for wl in a.workloads.split(','):
        if wl == 'enqueue':
            rows += enqueue(ctx, a)
            continue
        groups = make[wl](ctx, a)
        for name, cs in groups if isinstance(groups, list) else [groups]:
            cs = [c for c in cs if not only or any(s in c.name.lower() for s in only)]
            if cs and runs.get(name, a.runs) > 0:
                rows += run_workload(a, name, cs, runs.get(name))
    with open(a.out, 'w') as f:
        json.dump(rows, f, indent=1)
    bad = sum(1 for r in rows for x in r['runs'] if not x['ok'])
    log('bench: %s: %d rows, %d runs failed -> %s' % (a.setting, len(rows), bad, a.out))


if __name__ == '__main__':
    main()
