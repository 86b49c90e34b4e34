"""Shared by the Python contenders: arguments, the answer check, timing, CPU.

Each contender script is run as
    /usr/bin/python3 bench/contenders/NAME.py --keys KEYS --expected TSV [--runs R] [--warmup W]
with the store in the environment:
    BENCH_S3=http://host:port   BENCH_ST_AUTH=http://host:port/auth/v1.0
    BENCH_USER=test:tester      BENCH_KEY=testing       BENCH_BUCKET=...
It prints one JSON line per timed run on stdout:
    {"seconds": wall, "cpu": client CPU seconds, "ok": bool, "problem": "..."}
Setup (imports, sessions, authentication, a Dask cluster) and W warm-up runs
are not timed, as in the notebook, where %%timeit ran on objects already made
and already authenticated.  CPU is utime+stime of this process and of every
descendant (Dask's nanny and worker processes), from /proc, over the run.
"""
import argparse
import json
import os
import sys
import time

BUCKET = os.environ.get('BENCH_BUCKET', 'LSST-IR-FUSION-testfromopenstack')
S3 = os.environ.get('BENCH_S3', '')
ST_AUTH = os.environ.get('BENCH_ST_AUTH', '')
USER = os.environ.get('BENCH_USER', 'test:tester')
KEY = os.environ.get('BENCH_KEY', 'testing')

_TICK = os.sysconf('SC_CLK_TCK')


def _stat(pid):
    with open('/proc/%d/stat' % pid, 'rb') as f:
        s = f.read()
    rest = s[s.rindex(b')') + 2:].split()
    # rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15
    return int(rest[1]), int(rest[11]) + int(rest[12])


def tree_cpu(root=None):
    """CPU seconds (user+system) of root and all its live descendants."""
    root = root or os.getpid()
    ppid, cpu = {}, {}
    for d in os.listdir('/proc'):
        if d.isdigit():
            try:
                ppid[int(d)], cpu[int(d)] = _stat(int(d))
            except (OSError, ValueError, IndexError):
                pass
    children = {}
    for p, pp in ppid.items():
        children.setdefault(pp, []).append(p)
    total, todo = 0, [root]
    while todo:
        p = todo.pop()
        total += cpu.get(p, 0)
        todo.extend(children.get(p, ()))
    return total / _TICK


def args():
    ap = argparse.ArgumentParser()
    ap.add_argument('--keys', required=True, help='the 800 keys, one per line')
    ap.add_argument('--expected', required=True, help='key<TAB>sidecar for the 80 keys')
    ap.add_argument('--runs', type=int, default=1)
    ap.add_argument('--warmup', type=int, default=1)
    a = ap.parse_args()
    with open(a.keys, encoding='utf-8') as f:
        a.key_list = [line.rstrip('\n') for line in f if line.strip()]
    a.expected_map = {}
    with open(a.expected, encoding='utf-8') as f:
        for line in f:
            k, _, v = line.rstrip('\n').partition('\t')
            a.expected_map[k] = v
    return a


def check(keys, values, expected_map):
    """'' when values are the expected sidecar of each key, in order; else the first problem."""
    values = list(values)
    if len(values) != len(keys):
        return '%d answers for %d keys' % (len(values), len(keys))
    bad = [(i, k, v) for i, (k, v) in enumerate(zip(keys, values))
           if k not in expected_map or v != expected_map[k]]
    if bad:
        i, k, v = bad[0]
        return '%d wrong answers; first: row %d %s: %r, expected %r' % (
            len(bad), i, k, v, expected_map.get(k))
    return ''


def main(run_once, a):
    """run_once() -> list of values in key order.  Warm-up, then timed runs."""
    for _ in range(a.warmup):
        problem = check(a.key_list, run_once(), a.expected_map)
        if problem:
            print(json.dumps({'seconds': 0, 'cpu': 0, 'ok': False,
                              'problem': 'warm-up: ' + problem}), flush=True)
            sys.exit(1)
    for _ in range(a.runs):
        c0 = tree_cpu()
        t0 = time.perf_counter()
        values = run_once()
        t1 = time.perf_counter()
        c1 = tree_cpu()
        problem = check(a.key_list, values, a.expected_map)
        print(json.dumps({'seconds': t1 - t0, 'cpu': c1 - c0, 'ok': not problem,
                          'problem': problem}), flush=True)


def dask_notebook(per_key):
    """The notebook's Dask method (cells 34-42) around per_key(key, connection, container_name):
    LocalCluster 2 workers x 4 threads, one swiftclient Connection authenticated before
    timing, from_pandas with npartitions = len // 12, Series.apply, compute(); then main()."""
    import pandas as pd
    import swiftclient
    from dask import dataframe as ddf
    from distributed import Client, LocalCluster

    a = args()
    cluster = LocalCluster(n_workers=2, threads_per_worker=4, processes=True,
                           dashboard_address=None)
    client = Client(cluster)
    connection = swiftclient.Connection(user=USER, key=KEY, authurl=ST_AUTH)
    connection.get_account()                  # authenticated before timing, as in the notebook
    objects_swift = pd.DataFrame.from_dict({'key': a.key_list}, dtype=str)
    objects_swift_dask = ddf.from_pandas(objects_swift, npartitions=max(1, len(a.key_list) // 12))
    objects_swift_dask['value'] = objects_swift_dask['key'].apply(
        per_key, connection=connection, container_name=BUCKET, meta=pd.Series(dtype=str))

    def run_once():
        return objects_swift_dask.compute()['value'].tolist()

    try:
        main(run_once, a)
    finally:
        client.close()
        cluster.close()
