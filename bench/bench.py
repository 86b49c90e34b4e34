#!/usr/bin/python3
"""bench.py -- the notebook's workload, every contender side by side (run by bench/run.sh).

bench/run.sh starts the servers, seeds the bucket and (for the +20 ms setting) the delay
proxy, then runs this with:
    --redis URL --redis-pid PID --data DIR (haul_seed_notebook's OUTDIR) --work DIR
    --setting NAME=S3_ENDPOINT,ST_AUTH_URL   (one or more; the first is the reference)
    --runs N --results DIR --command "..."
It starts 2 haul-workers (--concurrency 32) once, before anything is timed, then for each
setting runs R rounds; in each round every contender runs once, in an order rotated from
round to round (so no contender always runs first or right after the heaviest one).
Every run's answers are checked against the seeded sidecars; a run with a wrong answer
does not count (and is reported).
"""
import argparse
import csv
import datetime
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
PY = '/usr/bin/python3'
BUCKET = 'LSST-IR-FUSION-testfromopenstack'
USER, KEY = 'test:tester', 'testing'
TICK = os.sysconf('SC_CLK_TCK')

# name, kind, script, reference haul row for the ratio
PY_CONTENDERS = [
    ('pandas + boto3 (serial, the notebook)', 's3', 'pandas_boto3.py'),
    ('boto3 + 32 threads', 's3', 'boto3_threads.py'),
    ('pandas + swiftclient (serial)', 'swift', 'pandas_swift.py'),
    ('Dask LocalCluster 2x4 + swiftclient', 'swift', 'dask_swift.py'),
]
HAUL = {'s3': 'haul, S3 (2 workers x 32)', 'swift': 'haul, Swift (2 workers x 32)'}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def proc_cpu(pid):
    """utime+stime of one process, seconds (0 if gone)."""
    try:
        with open('/proc/%d/stat' % pid, 'rb') as f:
            s = f.read()
    except OSError:
        return 0.0
    rest = s[s.rindex(b')') + 2:].split()
    return (int(rest[11]) + int(rest[12])) / TICK


def redis_cli(url, *args):
    return subprocess.run(['redis-cli', '-u', url, *args], capture_output=True, text=True,
                          timeout=10).stdout.strip()


def load_expected(path):
    exp = {}
    with open(path, encoding='utf-8') as f:
        for line in f:
            k, _, v = line.rstrip('\n').partition('\t')
            exp[k] = v
    return exp


def check_csv(path, keys, expected):
    """'' when the scheduler's CSV holds exactly one ok row per key, in order, right value."""
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


class Haul:
    def __init__(self, a, keysfile, keys, expected):
        self.a, self.keysfile, self.keys, self.expected = a, keysfile, keys, expected
        self.workers, self.logs = [], []
        self.n = 0

    def start_workers(self, n=2, concurrency=32):
        before = int(redis_cli(self.a.redis, 'ZCARD', 'haul:workers') or 0)
        for i in range(n):
            lf = open(os.path.join(self.a.work, 'worker%d.log' % (i + 1)), 'ab')
            self.logs.append(lf)
            self.workers.append(subprocess.Popen(
                [os.path.join(TOP, 'bin/haul-worker'), '--redis', self.a.redis,
                 '--concurrency', str(concurrency)], stdin=subprocess.DEVNULL,
                stdout=lf, stderr=lf))
        deadline = time.time() + 15
        while time.time() < deadline:
            if int(redis_cli(self.a.redis, 'ZCARD', 'haul:workers') or 0) >= before + n:
                return
            if any(w.poll() is not None for w in self.workers):
                break
            time.sleep(0.05)
        raise SystemExit('bench: the haul workers did not register (see %s/worker*.log)' % self.a.work)

    def stop_workers(self):
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

    def run(self, kind, s3, st_auth):
        """One timed `haul-scheduler run`: wall seconds, CPU (workers + scheduler), Redis CPU."""
        self.n += 1
        out = os.path.join(self.a.work, 'haul-%s-%d.csv' % (kind, self.n))
        env = dict(os.environ)
        cmd = [os.path.join(TOP, 'bin/haul-scheduler'), 'run', '--redis', self.a.redis]
        if kind == 's3':
            env.update(AWS_ACCESS_KEY_ID=USER, AWS_SECRET_ACCESS_KEY=KEY)
            cmd += ['--s3', s3, '--region', 'us-east-1']
        else:
            env.update(ST_AUTH=st_auth, ST_USER=USER, ST_KEY=KEY)
            cmd += ['--swift']
        cmd += ['--bucket', BUCKET, '--keys', self.keysfile, '--op', 'sidecar',
                '--no-progress', '--out', out]
        w0 = sum(proc_cpu(w.pid) for w in self.workers)
        r0 = proc_cpu(self.a.redis_pid)
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        err = p.stderr.read()
        _, status, ru = os.wait4(p.pid, 0)
        t1 = time.perf_counter()
        p.returncode = os.waitstatus_to_exitcode(status)
        w1 = sum(proc_cpu(w.pid) for w in self.workers)
        r1 = proc_cpu(self.a.redis_pid)
        err = err.decode('utf-8', 'replace')
        m = re.search(r'haul: job \S+: .*?, ([0-9.]+) s, ([0-9]+) keys/s', err)
        problem = ''
        if p.returncode != 0:
            problem = 'haul-scheduler exit %d: %s' % (p.returncode, err.strip()[-300:])
        else:
            problem = check_csv(out, self.keys, self.expected)
        if not problem:
            os.unlink(out)
        return {'seconds': t1 - t0, 'cpu': (w1 - w0) + ru.ru_utime + ru.ru_stime,
                'sched_cpu': ru.ru_utime + ru.ru_stime, 'redis_cpu': r1 - r0,
                'sched_seconds': float(m.group(1)) if m else None,
                'sched_keys_s': float(m.group(2)) if m else None,
                'ok': not problem, 'problem': problem}


def run_python(a, script, kind, s3, st_auth, keysfile, runs=1):
    env = dict(os.environ, BENCH_S3=s3, BENCH_ST_AUTH=st_auth, BENCH_USER=USER, BENCH_KEY=KEY,
               BENCH_BUCKET=BUCKET, PYTHONDONTWRITEBYTECODE='1')
    env.pop('PYTHONPATH', None)
    env.pop('PYTHONHOME', None)
    cmd = [PY, os.path.join(HERE, 'contenders', script), '--keys', keysfile,
           '--expected', os.path.join(a.data, 'notebook-expected.tsv'),
           '--runs', str(runs), '--warmup', str(a.warmup)]
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=a.timeout,
                           cwd=a.work)
    except subprocess.TimeoutExpired:
        return [{'seconds': 0, 'cpu': 0, 'ok': False, 'problem': 'timed out after %ds' % a.timeout}]
    res = []
    for line in p.stdout.splitlines():
        if line.startswith('{'):
            res.append(json.loads(line))
    if not res or p.returncode != 0:
        tail = (p.stderr.strip().splitlines() or [''])[-1]
        res.append({'seconds': 0, 'cpu': 0, 'ok': False,
                    'problem': 'exit %d: %s' % (p.returncode, tail[-300:])})
    return res


def machine():
    model = ''
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    return {'nproc': os.cpu_count(), 'kernel': platform.release(), 'cpu': model}


def fmt_ratio(row, ref):
    if ref is None or row is ref or not row['seconds']:
        return '-'
    r = statistics.median(row['seconds']) / statistics.median(ref['seconds'])
    x = r if r >= 1 else 1 / r
    return 'haul is %s slower' % (('%.1fx' if x >= 2 else '%.2fx') % x) if r < 1 else \
        'haul is %s faster' % (('%.1fx' if x >= 2 else '%.2fx') % x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--redis', required=True)
    ap.add_argument('--redis-pid', type=int, default=0)
    ap.add_argument('--data', required=True)
    ap.add_argument('--work', required=True)
    ap.add_argument('--setting', action='append', required=True, help='NAME=S3_URL,ST_AUTH_URL')
    ap.add_argument('--runs', type=int, default=5)
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--repeat', type=int, default=10, help='the listing repeated this many times')
    ap.add_argument('--timeout', type=int, default=300)
    ap.add_argument('--only', default='', help='comma-separated substrings of contender names')
    ap.add_argument('--results', default=os.path.join(HERE, 'results'))
    ap.add_argument('--command', default='make bench')
    ap.add_argument('--note', action='append', default=[])
    a = ap.parse_args()

    with open(os.path.join(a.data, 'notebook-keys.txt'), encoding='utf-8') as f:
        listing = [line.rstrip('\n') for line in f if line.strip()]
    keys = listing * a.repeat
    keysfile = os.path.join(a.work, 'keys-%d.txt' % len(keys))
    with open(keysfile, 'w', encoding='utf-8') as f:
        f.write(''.join(k + '\n' for k in keys))
    expected = load_expected(os.path.join(a.data, 'notebook-expected.tsv'))
    nkeys = len(keys)
    only = [s.strip().lower() for s in a.only.split(',') if s.strip()]

    def wanted(name):
        return not only or any(s in name.lower() for s in only)

    haul = Haul(a, keysfile, keys, expected)
    haul.start_workers()
    rows = []            # one per (setting, contender)
    runs_log = []        # every run
    try:
        for setting in a.setting:
            sname, _, urls = setting.partition('=')
            s3, st_auth = urls.split(',')
            contenders = []
            for kind in ('s3', 'swift'):
                if wanted(HAUL[kind]):
                    contenders.append(('haul', HAUL[kind], kind, None))
            for name, kind, script in PY_CONTENDERS:
                if wanted(name):
                    contenders.append(('py', name, kind, script))
            by_name = {}
            for c in contenders:
                by_name[c[1]] = {'setting': sname, 'contender': c[1], 'kind': c[2],
                                 'is_haul': c[0] == 'haul', 'seconds': [], 'cpu': [],
                                 'sched_keys_s': [], 'redis_cpu': [], 'sched_cpu': [],
                                 'failed': []}
                rows.append(by_name[c[1]])
            # haul's warm-up, like the Python contenders' own: tokens, connections.
            for c in contenders:
                if c[0] == 'haul':
                    for _ in range(a.warmup):
                        r = haul.run(c[2], s3, st_auth)
                        if not r['ok']:
                            log('bench: %s %s warm-up: %s' % (sname, c[1], r['problem']))
            for rnd in range(a.runs):
                k = rnd % len(contenders)
                for c in contenders[k:] + contenders[:k]:
                    row = by_name[c[1]]
                    if c[0] == 'haul':
                        results = [haul.run(c[2], s3, st_auth)]
                    else:
                        results = run_python(a, c[3], c[2], s3, st_auth, keysfile)
                    for r in results:
                        runs_log.append(dict(r, setting=sname, contender=c[1], round=rnd + 1))
                        if r['ok']:
                            row['seconds'].append(r['seconds'])
                            row['cpu'].append(r['cpu'])
                            for f in ('sched_keys_s', 'redis_cpu', 'sched_cpu'):
                                if r.get(f) is not None:
                                    row[f].append(r[f])
                        else:
                            row['failed'].append(r['problem'])
                        log('  %-8s round %d  %-42s %s' % (
                            sname, rnd + 1, c[1],
                            '%.3f s  cpu %.3f s' % (r['seconds'], r['cpu']) if r['ok']
                            else 'FAILED: ' + r['problem']))
    finally:
        haul.stop_workers()

    report(a, rows, runs_log, nkeys)


def report(a, rows, runs_log, nkeys):
    os.makedirs(a.results, exist_ok=True)
    m = machine()
    header = ['setting', 'contender', 'runs ok', 'median s', 'min s', 'max s', 'keys/s',
              'vs haul (same API)', 'client CPU s / 1k keys', 'haul-scheduler keys/s (own line)',
              'Redis CPU s / 1k keys']
    table, csvrows = [], []
    for row in rows:
        refname = HAUL[row['kind']]
        ref = next((r for r in rows if r['setting'] == row['setting'] and r['contender'] == refname
                    and r['seconds']), None)
        if row['seconds']:
            med = statistics.median(row['seconds'])
            cells = [row['setting'], row['contender'],
                     '%d/%d' % (len(row['seconds']), len(row['seconds']) + len(row['failed'])),
                     '%.3f' % med, '%.3f' % min(row['seconds']), '%.3f' % max(row['seconds']),
                     '%.0f' % (nkeys / med), fmt_ratio(row, ref),
                     '%.3f' % (statistics.median(row['cpu']) * 1000 / nkeys),
                     '%.0f' % statistics.median(row['sched_keys_s']) if row['sched_keys_s'] else '-',
                     '%.3f' % (statistics.median(row['redis_cpu']) * 1000 / nkeys)
                     if row['redis_cpu'] else '-']
        else:
            cells = [row['setting'], row['contender'], '0/%d' % len(row['failed'])] + ['-'] * 8
        table.append(cells)
        csvrows.append(cells)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *table)]
    text = []
    text.append('| ' + ' | '.join(h.ljust(w) for h, w in zip(header, widths)) + ' |')
    text.append('|' + '|'.join('-' * (w + 2) for w in widths) + '|')
    for cells in table:
        text.append('| ' + ' | '.join(str(c).ljust(w) for c, w in zip(cells, widths)) + ' |')
    failures = ['- %s / %s: %s' % (r['setting'], r['contender'], p)
                for r in rows for p in r['failed']]
    print('\n'.join(text))
    if failures:
        print('\nruns that did not count (wrong or missing answers, errors):')
        print('\n'.join(failures))

    now = datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')
    md = ['# haul benchmark: the notebook\'s workload', '',
          '%s. Workload: the seeded notebook bucket (80 objects), its listing x%d = %d keys, '
          '`sidecar` (%d sidecar GETs, %d distinct), every run\'s answers checked against the '
          'seeded sidecars before its time counts. Median of %d runs per contender, contenders '
          'alternating (order rotated each round), after %d untimed warm-up run(s) each.' % (
              now, a.repeat, nkeys, nkeys // 5, 16, a.runs, a.warmup), '',
          '**Command:** `%s`' % a.command, '',
          '**Machine:** nproc %s, kernel %s, CPU %s. Store: OpenStack Swift 2.30 (tempauth + '
          's3api, 2 proxy workers) and redis-server on the same machine, started by '
          'tests/lib/servers.sh; clients on the same cores.' % (m['nproc'], m['kernel'], m['cpu']),
          '', '\n'.join(text), '']
    md += ['Columns: *median/min/max s* wall time of one run of the 800 keys (Python: the '
           '`.apply`/`compute()`/`pool.map` call, session and connection made and authenticated '
           'beforehand, as in the notebook; haul: the whole `haul-scheduler run --keys` process, '
           'start to exit: credentials check, submit, collect, CSV written; its 2 workers were '
           'started before timing). *keys/s* = keys / median. *vs haul* compares with haul over '
           'the same API (boto3 rows with haul S3, swiftclient rows with haul Swift). '
           '*client CPU* = user+system CPU of the client over the run: Python, the process and '
           'all its descendants (Dask nanny and workers) from /proc; haul, both workers '
           '(/proc/PID/stat deltas) + the scheduler (wait4 rusage). Redis CPU is reported '
           'apart. *haul-scheduler keys/s* is the scheduler\'s own summary line (it times '
           'from its submit, not from process start).', '']
    for n in a.note:
        md += [n, '']
    if failures:
        md += ['Runs that did not count:', ''] + failures + ['']
    with open(os.path.join(a.results, 'latest.md'), 'w') as f:
        f.write('\n'.join(md))
    with open(os.path.join(a.results, 'latest.csv'), 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(csvrows)
    with open(os.path.join(a.results, 'latest-runs.csv'), 'w', newline='') as f:
        fields = ['setting', 'contender', 'round', 'ok', 'seconds', 'cpu', 'sched_cpu',
                  'redis_cpu', 'sched_seconds', 'sched_keys_s', 'problem']
        w = csv.DictWriter(f, fieldnames=fields, extrasaction='ignore')
        w.writeheader()
        for r in runs_log:
            w.writerow(r)
    log('bench: wrote %s/latest.md, latest.csv, latest-runs.csv' % a.results)


if __name__ == '__main__':
    main()
