#!/usr/bin/python3
"""report.py -- bench/bench.py's rows (one JSON file per setting) into the benchmark's table,
its targets with the measured ratios, a CSV of every row and every run, and a PNG plot.

    report.py --results DIR --command "make bench" [--note TEXT]... ROWS.json...
Writes DIR/latest.md, latest.csv, latest-runs.csv, latest.png (the PNG needs matplotlib:
Debian's python3-matplotlib; without it the plot is skipped, and said so).
"""
import argparse
import csv
import datetime
import json
import os
import platform
import statistics
import sys

WL_TITLE = {
    'w1': 'Workload 1, the notebook\'s: 800 keys (the 80-object listing x10), `sidecar`, real Swift '
          '(tempauth + s3api)',
    'w2': 'Workload 2, scale: small objects (1-16 KiB), `get`, nginx standing in for the store',
    'w2cap': 'Workload 2, store-bound: the plain loopback rows again, nginx held to a fraction of one core '
             '(a CPU quota), so that the store sets the pace',
    'w3': 'Workload 3, scale-out: one haul-worker on each of 1, 2 and 4 hosts, `get` from nginx',
    'enqueue': 'Enqueue: `haul-scheduler submit` alone (no worker on the queue)',
    'rgw': 'RGW: small objects (1-16 KiB) from a real Ceph RGW, `get` to files over S3, as many '
           'requests in flight',
    'w4one': 'Workload 4, large objects: one object alone, `get` to a file on tmpfs',
    'w4': 'Workload 4, large objects: every object at once, `get` to files on tmpfs',
    'wput': 'Write side: `put` of many small files (1-16 KiB) from tmpfs to the real Swift (tempauth + '
            's3api), a fresh container each run',
    'wputbig': 'Write side: `put` of large files from tmpfs to the real Swift, one PUT a file for haul and '
               'swift upload, multipart for rclone and the AWS CLI',
}
BYTES_WL = ('w4one', 'w4')
PUT_WL = ('wput', 'wputbig')
ORDER = ('w1', 'w2', 'w2cap', 'w3', 'rgw', 'w4one', 'w4', 'wput', 'wputbig', 'enqueue')


def put_peer(contender, rows):
    """The haul row a write-side tool is judged against: the same API (rclone and the AWS CLI
    sign S3, swift upload speaks Swift)."""
    api = 'haul Swift' if contender.startswith('swift') else 'haul S3'
    return next((r for r in rows if r['contender'].startswith(api) and 'keys_s' in r), None)


def med(xs):
    return statistics.median(xs) if xs else None


def summarise(row):
    ok = [r for r in row['runs'] if r['ok']]
    s = {'workload': row['workload'], 'setting': row['setting'], 'contender': row['contender'],
         'runs_ok': len(ok), 'runs': len(row['runs']),
         'failed': [r['problem'] for r in row['runs'] if not r['ok']]}
    if not ok:
        return s
    secs = [r['seconds'] for r in ok]
    s.update({
        'keys': int(med([r['keys'] for r in ok])),
        'median_s': med(secs), 'min_s': min(secs), 'max_s': max(secs),
        'keys_s': med([r['keys'] / r['seconds'] for r in ok]),
        'cpu_per_1k': med([r['cpu'] * 1000 / r['keys'] for r in ok]),
    })
    if all('sched_cpu' in r for r in ok):
        s['sched_us_per_key'] = med([r['sched_cpu'] * 1e6 / r['keys'] for r in ok])
    if any('redis_cpu' in r for r in ok):
        s['redis_cpu_per_1k'] = med([r['redis_cpu'] * 1000 / r['keys'] for r in ok if 'redis_cpu' in r])
    if any('worker_hwm_kb' in r for r in ok):
        s['worker_rss_start_mb'] = min(r['worker_rss_start_kb'] for r in ok) / 1024
        s['worker_rss_end_mb'] = ok[-1]['worker_rss_kb'] / 1024
        s['worker_hwm_mb'] = max(r['worker_hwm_kb'] for r in ok) / 1024
    if any('sched_rss_kb' in r for r in ok):
        s['sched_rss_mb'] = max(r['sched_rss_kb'] for r in ok) / 1024
    if any('tool_rss_kb' in r for r in ok):
        s['sched_rss_mb'] = max(r['tool_rss_kb'] for r in ok) / 1024
    if all(r.get('bytes') for r in ok):
        s['bytes'] = int(med([r['bytes'] for r in ok]))
        s['mib_s'] = med([r['bytes'] / r['seconds'] / 2**20 for r in ok])
        s['cpu_per_gib'] = med([r['cpu'] * 2**30 / r['bytes'] for r in ok])
    if any('redis_bytes_per_key' in r for r in ok):
        s['redis_bytes_per_key'] = med([r['redis_bytes_per_key'] for r in ok])
    return s


def x(v):
    return ('%.1fx' if v >= 2 else '%.2fx') % v


def compare(s, rows):
    """The ratio each row is judged by (see the column notes)."""
    if 'median_s' not in s:
        return '-'
    same = [r for r in rows if r['workload'] == s['workload'] and r['setting'] == s['setting']
            and 'keys_s' in r]
    c = s['contender']
    if s['workload'] == 'w1':
        if c.startswith('haul Python client'):
            # The client's own overhead per key beside haul-scheduler's, same workers, same API.
            api = 'S3' if ' S3' in c else 'Swift'
            ref = next((r for r in same if r['contender'].startswith('haul %s, 2 workers' % api)), None)
            mine = s.get('sched_us_per_key')
            if mine is None:
                return '-'
            if not ref or ref.get('sched_us_per_key') is None:
                return 'client CPU %.0f us/key' % mine
            return 'client CPU %.0f us/key (haul-scheduler %.0f); %s haul %s 2w\'s time' % (
                mine, ref['sched_us_per_key'], x(s['median_s'] / ref['median_s']), api)
        if c.startswith('haul'):
            return '-'
        api = 'S3' if 'boto3' in c else 'Swift'
        ref = next((r for r in same if r['contender'].startswith('haul %s, 2 workers' % api)), None)
        return 'haul %s 2w is %s faster' % (api, x(s['median_s'] / ref['median_s'])) if ref else '-'
    if s['workload'] in ('w2', 'w2cap', 'rgw'):
        ceil = next((r for r in same if r['contender'].startswith('ceiling')), None)
        haul = next((r for r in same if r['contender'].startswith('haul')), None)
        if is_tool(c):
            # rclone and the AWS CLI sign S3 requests: against haul's S3 row
            ref = next((r for r in same if r['contender'].startswith('haul S3')), haul)
            if ref:
                return 'haul S3 %s the keys/s; CPU/key %s haul\'s' % (
                    x(ref['keys_s'] / s['keys_s']), x(s['cpu_per_1k'] / ref['cpu_per_1k']))
            return '-'
        if c.startswith('haul') and ceil:
            return '%.0f%% of the ceiling; CPU/key %s wrk\'s' % (
                100 * s['keys_s'] / ceil['keys_s'], x(s['cpu_per_1k'] / ceil['cpu_per_1k']))
        if not c.startswith('haul') and not c.startswith('ceiling') and haul:
            return 'CPU/key %s haul\'s' % x(s['cpu_per_1k'] / haul['cpu_per_1k'])
        return '-'
    if s['workload'] in BYTES_WL:
        if 'mib_s' not in s:
            return '-'
        ref = next((r for r in same if r['contender'].startswith('curl -o') and 'mib_s' in r), None) or \
            next((r for r in same if r['contender'].startswith('haul') and 'mib_s' in r), None)
        if not ref or ref is s:
            return '-'
        return '%s %s\'s MiB/s' % (x(s['mib_s'] / ref['mib_s']), ref['contender'].split(',')[0].split(' (')[0])
    if s['workload'] in PUT_WL:
        ref = put_peer(c, same) if not c.startswith('haul') else None
        if not ref:
            return '-'
        return '%s %s the files/s; CPU/file %s haul\'s' % (
            ref['contender'].split(',')[0], x(ref['keys_s'] / s['keys_s']), x(s['cpu_per_1k'] / ref['cpu_per_1k']))
    if s['workload'] == 'w3':
        one = next((r for r in same if ', 1 host ' in r['contender']), None)
        return '%s the 1-host rate' % x(s['keys_s'] / one['keys_s']) if one else '-'
    return '-'


def is_tool(contender):
    return contender.startswith(('rclone', 'aws', 'curl'))


def table(header, cells):
    widths = [max(len(str(v)) for v in col) for col in zip(header, *cells)]
    out = ['| ' + ' | '.join(h.ljust(w) for h, w in zip(header, widths)) + ' |',
           '|' + '|'.join('-' * (w + 2) for w in widths) + '|']
    out += ['| ' + ' | '.join(str(v).ljust(w) for v, w in zip(c, widths)) + ' |' for c in cells]
    return out


def f(v, fmt):
    return fmt % v if v is not None else '-'


def targets(rows):
    """Each of the issue's targets with the measured ratio beside it."""
    def get(wl, setting_part, prefix):
        return next((r for r in rows if r['workload'] == wl and setting_part in r['setting']
                     and r['contender'].startswith(prefix) and 'keys_s' in r), None)
    out = []

    def add(name, val, met):
        out.append([name, val, 'met' if met else 'NOT met'])
    delayed = next((r['setting'] for r in rows if r['setting'].startswith('+')), None)
    if delayed:
        h_sw, dask = get('w1', delayed, 'haul Swift, 2 workers'), get('w1', delayed, 'Dask')
        h_s3, thr = get('w1', delayed, 'haul S3, 2 workers'), get('w1', delayed, 'boto3 + 32')
        if h_sw and dask:
            r = dask['median_s'] / h_sw['median_s']
            add('W1 %s: haul >= 5x faster than Dask + swiftclient' % delayed, x(r), r >= 5)
        if h_s3 and thr:
            r = thr['median_s'] / h_s3['median_s']
            add('W1 %s: haul faster than boto3 + 32 threads' % delayed, x(r), r > 1)
    hauls = [r for r in rows if r['workload'] == 'w1' and r['setting'] == 'no delay'
             and r['contender'].startswith('haul') and 'keys_s' in r]
    pys = [r for r in rows if r['workload'] == 'w1' and r['setting'] == 'no delay'
           and not r['contender'].startswith('haul') and 'keys_s' in r]
    if hauls and pys:
        best_h = min(h['median_s'] for h in hauls if ', 2 workers' in h['contender'])
        best_p = min(pys, key=lambda r: r['median_s'])
        r = best_p['median_s'] / best_h
        add('W1 no delay: haul faster than every Python contender (the fastest: %s)' % best_p['contender'],
            x(r), r > 1)
    for setting, need in (('plain loopback', 0.8), ('no delay', 0.8), (delayed, 0.9)):
        if not setting:
            continue
        c = get('w2', setting, 'ceiling')
        hs = [r for r in rows if r['workload'] == 'w2' and r['setting'] == setting and 'keys_s' in r
              and r['contender'].startswith('haul')]
        for h in hs if c else []:
            r = h['keys_s'] / c['keys_s']
            add('W2 %s: %s >= %d%% of the ceiling\'s keys/s' % (setting, h['contender'], need * 100),
                '%.0f%%' % (100 * r), r >= need)
            r = h['cpu_per_1k'] / c['cpu_per_1k']
            add('W2 %s: %s CPU/key <= 2x wrk\'s' % (setting, h['contender']), x(r), r <= 2)
        h = hs[0] if hs else None
        pys = [r for r in rows if r['workload'] == 'w2' and r['setting'] == setting and 'keys_s' in r
               and not r['contender'].startswith(('haul', 'ceiling')) and not is_tool(r['contender'])]
        if h and pys:
            best = min(pys, key=lambda r: r['cpu_per_1k'])
            r = h['cpu_per_1k'] / best['cpu_per_1k']
            add('W2 %s: haul CPU/key <= 1/3 of the best Python contender\'s (%s)' % (setting, best['contender']),
                '%.2f (1/%.1f)' % (r, 1 / r), r <= 1 / 3)
    # Store-bound (not one of the targets): how busy haul keeps a store that cannot keep
    # up, against wrk at the same number of requests in flight.
    c = get('w2cap', '', 'ceiling')
    for h in [r for r in rows if r['workload'] == 'w2cap' and r['contender'].startswith('haul')
              and 'keys_s' in r] if c else []:
        r = h['keys_s'] / c['keys_s']
        add('W2 store-bound (%s, nginx held to a fraction of a core): %s, keys/s against the '
            'ceiling\'s (reported)' % (h['setting'], h['contender']), '%.0f%%' % (100 * r), True)
    # rclone and the AWS CLI, at the same concurrency: haul ahead in keys/s, at <= 1/2 of their CPU/key
    for wl in ('w2', 'rgw'):
        for setting in dict.fromkeys(r['setting'] for r in rows if r['workload'] == wl):
            same = [r for r in rows if r['workload'] == wl and r['setting'] == setting and 'keys_s' in r]
            h = next((r for r in same if r['contender'].startswith('haul S3')), None)
            for t in [r for r in same if is_tool(r['contender'])] if h else []:
                r = h['keys_s'] / t['keys_s']
                c = h['cpu_per_1k'] / t['cpu_per_1k']
                add('%s %s: %s ahead of %s in keys/s, at <= 1/2 of its CPU/key' % (
                    wl.upper(), setting, h['contender'], t['contender']),
                    '%s the keys/s, %.2f of the CPU/key' % (x(r), c), r > 1 and c <= 0.5)
    # Workload 4: haul against curl's one stream, and rclone's multi-thread streams
    for setting in dict.fromkeys(r['setting'] for r in rows if r['workload'] == 'w4one'):
        same = [r for r in rows if r['workload'] == 'w4one' and r['setting'] == setting and 'mib_s' in r]
        curl = next((r for r in same if r['contender'].startswith('curl -o')), None)
        rcl = next((r for r in same if r['contender'].startswith('rclone')), None)
        for h in [r for r in same if r['contender'].startswith('haul')]:
            who = 'haul, --ignore-checksum' if 'ignore-checksum' in h['contender'] else 'haul (MD5 checked)'
            if curl and not setting.startswith('+'):
                r = h['mib_s'] / curl['mib_s']
                add('W4 %s, one object: %s within 10%% of curl\'s MiB/s' % (setting, who),
                    '%.0f / %.0f MiB/s (%.2fx)' % (h['mib_s'], curl['mib_s'], r), r >= 0.9)
            if curl and setting.startswith('+'):
                r = h['mib_s'] / curl['mib_s']
                add('W4 %s, one object: %s >= 3x one stream\'s (curl\'s) MiB/s' % (setting, who),
                    '%.0f / %.0f MiB/s (%s)' % (h['mib_s'], curl['mib_s'], x(r)), r >= 3)
            if rcl and setting.startswith('+'):
                r = h['mib_s'] / rcl['mib_s']
                add('W4 %s, one object: %s ahead of %s' % (setting, who, rcl['contender']),
                    '%.0f / %.0f MiB/s (%s)' % (h['mib_s'], rcl['mib_s'], x(r)), r > 1)
    # The write side (issue 10): haul ahead of each tool in files/s and MiB/s, at <= 1/2 of its
    # CPU per file; each tool against haul on the same API.
    for wl in PUT_WL:
        for setting in dict.fromkeys(r['setting'] for r in rows if r['workload'] == wl):
            same = [r for r in rows if r['workload'] == wl and r['setting'] == setting and 'keys_s' in r]
            for t in [r for r in same if not r['contender'].startswith('haul')]:
                h = put_peer(t['contender'], same)
                if not h or 'mib_s' not in h or 'mib_s' not in t:
                    continue
                r, m = h['keys_s'] / t['keys_s'], h['mib_s'] / t['mib_s']
                c = h['cpu_per_1k'] / t['cpu_per_1k']
                add('%s %s: %s ahead of %s in files/s and MiB/s, at <= 1/2 of its CPU/file' % (
                    'PUT' if wl == 'wput' else 'PUT large', setting, h['contender'].split(' (')[0],
                    t['contender']),
                    '%.3g / %.3g files/s, %.0f / %.0f MiB/s (%s); %.2f of the CPU/file' % (
                        h['keys_s'], t['keys_s'], h['mib_s'], t['mib_s'], x(m), c),
                    r > 1 and m > 1 and c <= 0.5)
    hs = [r for r in rows if r['contender'].startswith('haul') and 'worker_hwm_mb' in r]
    if hs:
        peak = max(hs, key=lambda r: r['worker_hwm_mb'])
        grow = max(hs, key=lambda r: r['worker_hwm_mb'] - r['worker_rss_start_mb'])
        add('Memory: every haul row\'s worker peak RSS < 30 MB (%d rows; the largest: %s, %s, %s)'
            % (len(hs), peak['workload'], peak['setting'], peak['contender']),
            '%.1f MB' % peak['worker_hwm_mb'], peak['worker_hwm_mb'] < 30)
        add('Memory: worker RSS flat -- the largest growth from registration to peak '
            '(reported; %s, %s, %s)' % (grow['workload'], grow['setting'], grow['contender']),
            '+%.1f MB (%.1f -> %.1f)' % (grow['worker_hwm_mb'] - grow['worker_rss_start_mb'],
                                         grow['worker_rss_start_mb'], grow['worker_hwm_mb']), True)
    w2h = [r for r in rows if r['workload'] == 'w2' and r['contender'].startswith('haul')
           and 'sched_rss_mb' in r]
    small = get('w1', 'no delay', 'haul Swift, 2 workers')
    if w2h and small and 'sched_rss_mb' in small:
        big = max(w2h, key=lambda r: r['keys'])
        per = (big['sched_rss_mb'] - small['sched_rss_mb']) * 1024 * 1024 / (big['keys'] - small['keys'])
        add('Memory: the scheduler\'s peak RSS grows far slower than the job: %.1f MB at %d keys, '
            '%.1f MB at %d keys' % (small['sched_rss_mb'], small['keys'], big['sched_rss_mb'], big['keys']),
            '%.0f bytes/key' % per, per < 200)
    enq = [r for r in rows if r['workload'] == 'enqueue' and 'keys_s' in r]
    if enq:
        best = max(enq, key=lambda r: r['keys_s'])
        worst = min(enq, key=lambda r: r['keys_s'])
        add('Enqueue >= 100,000 keys/s (slowest: %s)' % worst['contender'], '%.0f keys/s' % worst['keys_s'],
            worst['keys_s'] >= 100000)
        add('Redis memory per queued key (reported; %s)' % best['contender'],
            '%.0f bytes' % best['redis_bytes_per_key'], True)
    return out


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        return 'no plot: matplotlib is missing (Debian package python3-matplotlib)'
    panels = []
    for wl in ORDER[:-1]:
        metric = 'mib_s' if wl in BYTES_WL or wl == 'wputbig' else 'keys_s'
        for setting in dict.fromkeys(r['setting'] for r in rows):
            rs = [r for r in rows if r['workload'] == wl and r['setting'] == setting and metric in r]
            if rs:
                panels.append((wl, setting, rs))
    if not panels:
        return 'no plot: no rows'
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 1.2 + sum(0.42 * len(p[2]) + 0.8 for p in panels)),
                             gridspec_kw={'height_ratios': [len(p[2]) + 1 for p in panels]})
    if len(panels) == 1:
        axes = [axes]
    for ax, (wl, setting, rs) in zip(axes, panels):
        metric, unit = ('mib_s', 'MiB/s') if wl in BYTES_WL or wl == 'wputbig' else \
            ('keys_s', 'files/s' if wl == 'wput' else 'keys/s')
        names = [r['contender'] for r in rs][::-1]
        vals = [r[metric] for r in rs][::-1]
        colors = ['#1f6fb2' if n.startswith('haul') else '#999999' if n.startswith(('ceiling', 'reference'))
                  else '#e08a2c' for n in names]
        ax.barh(names, vals, color=colors)
        ax.set_xscale('log')
        for i, v in enumerate(vals):
            ax.text(v, i, ' %.0f' % v, va='center', fontsize=8)
        ax.set_title('%s, %s: %s (log scale)' % (wl.upper(), setting, unit), fontsize=10, loc='left')
        ax.tick_params(axis='y', labelsize=8)
        ax.set_xlim(min(vals) / 2, max(vals) * 4)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return ''


def machine():
    model = ''
    try:
        with open('/proc/cpuinfo') as fh:
            for line in fh:
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    return 'nproc %s, kernel %s, CPU %s' % (os.cpu_count(), platform.release(), model)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--results', required=True)
    ap.add_argument('--command', default='make bench')
    ap.add_argument('--note', action='append', default=[])
    ap.add_argument('--elapsed', default='')
    ap.add_argument('files', nargs='+')
    a = ap.parse_args()
    raw = []
    for fn in a.files:
        with open(fn) as fh:
            raw += json.load(fh)
    rows = [summarise(r) for r in raw]
    os.makedirs(a.results, exist_ok=True)

    header = ['setting', 'contender', 'runs ok', 'keys', 'median s', 'min s', 'max s', 'keys/s',
              'compared', 'client CPU s / 1k keys', 'Redis CPU s / 1k keys', 'worker RSS MB start/peak',
              'scheduler / tool peak RSS MB']
    bheader = ['setting', 'contender', 'runs ok', 'objects', 'GiB', 'median s', 'min s', 'max s', 'MiB/s',
               'compared', 'client CPU s / GiB', 'worker RSS MB start/peak', 'scheduler / tool peak RSS MB']
    pheader = ['setting', 'contender', 'runs ok', 'files', 'MiB', 'median s', 'min s', 'max s', 'files/s',
               'MiB/s', 'compared', 'client CPU ms / file', 'client CPU s / GiB', 'worker RSS MB start/peak',
               'scheduler / tool peak RSS MB']
    md = ['# haul benchmark', '',
          '%s. Every run\'s answers are checked (the sidecar text; every downloaded file\'s size '
          'and MD5) before its time counts. Median of the timed runs per row, contenders alternating '
          '(order rotated each round), after an untimed warm-up.%s' % (
              datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z'),
              ' The whole `make bench` took %s.' % a.elapsed if a.elapsed else ''), '',
          '**Command:** `%s`' % a.command, '', '**Machine:** %s.' % machine(), '']
    csvrows = []
    tg = targets(rows)
    if tg:
        md += ['## Targets', ''] + table(['target', 'measured', ''], tg) + ['']
    for wl in ORDER:
        rs = [r for r in rows if r['workload'] == wl]
        if not rs:
            continue
        cells, bcells, pcells = [], [], []
        for s in rs:
            rss = '%.1f/%.1f' % (s['worker_rss_start_mb'], s['worker_hwm_mb']) if 'worker_hwm_mb' in s else '-'
            if 'median_s' in s:
                c = [s['setting'], s['contender'], '%d/%d' % (s['runs_ok'], s['runs']), s['keys'],
                     '%.3f' % s['median_s'], '%.3f' % s['min_s'], '%.3f' % s['max_s'],
                     '%.0f' % s['keys_s'], compare(s, rows), '%.3f' % s['cpu_per_1k'],
                     f(s.get('redis_cpu_per_1k'), '%.3f'), rss, f(s.get('sched_rss_mb'), '%.1f')]
                if wl == 'enqueue':
                    c[8] = '%.0f Redis bytes/key' % s['redis_bytes_per_key']
                extra = [s.get('bytes', ''), f(s.get('mib_s'), '%.1f'), f(s.get('cpu_per_gib'), '%.3f')]
                if 'mib_s' in s:
                    bcells.append([s['setting'], s['contender'], '%d/%d' % (s['runs_ok'], s['runs']), s['keys'],
                                   '%.1f' % (s['bytes'] / 2**30), '%.3f' % s['median_s'], '%.3f' % s['min_s'],
                                   '%.3f' % s['max_s'], '%.0f' % s['mib_s'], compare(s, rows),
                                   '%.2f' % s['cpu_per_gib'], rss, f(s.get('sched_rss_mb'), '%.1f')])
                if 'mib_s' in s:
                    pcells.append([s['setting'], s['contender'], '%d/%d' % (s['runs_ok'], s['runs']), s['keys'],
                                   '%.0f' % (s['bytes'] / 2**20), '%.3f' % s['median_s'], '%.3f' % s['min_s'],
                                   '%.3f' % s['max_s'], ('%.0f' if s['keys_s'] >= 10 else '%.2f') % s['keys_s'],
                                   '%.1f' % s['mib_s'],
                                   compare(s, rows), '%.3f' % s['cpu_per_1k'], '%.2f' % s['cpu_per_gib'], rss,
                                   f(s.get('sched_rss_mb'), '%.1f')])
            else:
                c = [s['setting'], s['contender'], '0/%d' % s['runs']] + ['-'] * 10
                extra = ['', '', '']
                bcells.append([s['setting'], s['contender'], '0/%d' % s['runs']] + ['-'] * 10)
                pcells.append([s['setting'], s['contender'], '0/%d' % s['runs']] + ['-'] * 12)
            cells.append(c)
            csvrows.append([wl] + c + extra)
        if wl in BYTES_WL:
            md += ['## ' + WL_TITLE[wl], ''] + table(bheader, bcells) + ['']
        elif wl in PUT_WL:
            md += ['## ' + WL_TITLE[wl], ''] + table(pheader, pcells) + ['']
        else:
            md += ['## ' + WL_TITLE[wl], ''] + table(header, cells) + ['']
    md += ['Columns: *median/min/max s*: wall time of one run (haul: the whole `haul-scheduler run` '
           'process, start to exit, its workers started (and, for jobs of up to 10,000 keys, warmed '
           'up) before; Python: the `.apply` / `compute()` / `pool.map` call, sessions made and '
           'authenticated before, as in the notebook; wrk: its run time; curl, rclone and the AWS '
           'CLI: the whole process, start to exit, a fresh one each run). *keys/s*: median over the '
           'runs of keys / seconds; *MiB/s*: of bytes / seconds. '
           '*compared*: workload 1, the Python row\'s time over haul\'s with 2 workers on the same '
           'API (boto3 rows against haul S3, swiftclient rows against haul Swift); workload 2, '
           'haul\'s keys/s as a share of the ceiling\'s and its CPU per key over wrk\'s, each Python '
           'row\'s CPU per key over haul\'s; workload 2 and RGW, for rclone and the AWS CLI, haul S3\'s '
           'keys/s over theirs and their CPU per key over haul S3\'s; workload 3, the rate over the '
           '1-host rate; workload 4, the MiB/s over curl\'s (one object) or haul\'s (every object); '
           'the write side, haul\'s files/s over the tool\'s on the same API (haul S3 for rclone and the '
           'AWS CLI, haul Swift for swift upload) and the tool\'s CPU per file over haul\'s. '
           '*client CPU*: user+system CPU over the run of the haul workers (/proc/PID/stat deltas) '
           'and the scheduler (wait4), of the Python process and its descendants (Dask\'s), or of '
           'wrk, curl, rclone or the AWS CLI (wait4: every thread); Redis\'s CPU apart, the store\'s '
           'not counted. *worker RSS*: the largest worker\'s VmRSS when it registered, and the largest '
           'VmHWM after the last run (workers live across the warm-up and every run). *scheduler / '
           'tool peak RSS*: the process\'s VmHWM sampled every 10 ms, the largest over the runs.', '']
    wcsv = os.path.join(a.results, 'window.csv')
    if os.path.exists(wcsv):
        # bench/window.sh's rows (it appends one per run): the latest, against the target.
        with open(wcsv) as fh:
            wr = list(csv.DictReader(fh))
        if wr:
            r = wr[-1]
            mib = lambda b: int(b or 0) / 1048576
            above = mib(r['redis_peak_bytes']) - mib(r['redis_idle_bytes'])
            md += ['## Redis memory of a big job (`bench/window.sh`)', '',
                   'The no-request sidecar job (keys not ending in .zip), generated and piped to '
                   '`haul-scheduler run --keys -`, %s workers x %s, a fresh redis-server on loopback, '
                   'INFO memory every 100 ms (%s, options: %s; every run in `window.csv`).' % (
                       r['workers'], r['concurrency'], r['date'], r['options']), '']
            md += table(['keys', 'Redis idle MiB', 'peak MiB', 'peak above idle MiB', 'target',
                         'keys/s', 'scheduler RSS MiB', 'worker RSS MiB'],
                        [[r['keys'], '%.1f' % mib(r['redis_idle_bytes']), '%.1f' % mib(r['redis_peak_bytes']),
                          '%.1f' % above, 'under 64 MiB above idle: %s' % ('met' if above < 64 else 'NOT met'),
                          r['keys_per_s'], '%.0f' % (int(r['scheduler_rss_kib'] or 0) / 1024),
                          '%.0f' % (int(r['worker_rss_kib'] or 0) / 1024)]]) + ['']
    for n in a.note:
        md += [n, '']
    failures = ['- %s / %s / %s: %s' % (r['workload'], r['setting'], r['contender'], p)
                for r in rows for p in r['failed']]
    if failures:
        md += ['Runs that did not count:', ''] + failures + ['']
    why = plot(rows, os.path.join(a.results, 'latest.png'))
    md += ['![keys/s by contender and setting](latest.png)' if not why else why, '']
    with open(os.path.join(a.results, 'latest.md'), 'w') as fh:
        fh.write('\n'.join(md))
    with open(os.path.join(a.results, 'latest.csv'), 'w', newline='') as fh:
        w = csv.writer(fh)
        w.writerow(['workload'] + header + ['bytes', 'MiB/s', 'client CPU s / GiB'])
        w.writerows(csvrows)
    with open(os.path.join(a.results, 'latest-runs.csv'), 'w', newline='') as fh:
        fields = ['workload', 'setting', 'contender', 'round', 'ok', 'keys', 'bytes', 'seconds', 'cpu', 'sched_cpu',
                  'redis_cpu', 'worker_rss_kb', 'worker_hwm_kb', 'sched_rss_kb', 'tool_rss_kb', 'redis_bytes_per_key',
                  'sched_keys_s', 'problem']
        w = csv.DictWriter(fh, fieldnames=fields, extrasaction='ignore')
        w.writeheader()
        for r in raw:
            for run in r['runs']:
                w.writerow(dict(run, workload=r['workload'], setting=r['setting'], contender=r['contender']))
    print('\n'.join(md))
    print('report: wrote %s/latest.md, latest.csv, latest-runs.csv%s' % (
        a.results, '' if why else ', latest.png'), file=sys.stderr)


if __name__ == '__main__':
    main()
