#!/usr/bin/python3
"""putstore.py -- the store side of the write rows (wput): a fresh container before each run,
the check of what a run uploaded, and its removal after.  Swift API (auth v1.0 from ST_AUTH,
ST_USER, ST_KEY), run on the client host (bench.py: `ip netns exec`).

    putstore.py new C              make container C (emptied first if it is there)
    putstore.py check C EXPECTED [ETAGS]
                                   list C (and nothing else may be in it): every key of
                                   EXPECTED (key <TAB> size <TAB> md5, smallobjs.py's form) once,
                                   with its size, and its ETag the MD5 -- or, for an S3 multipart
                                   upload (the listing's s3_etag), one of the multipart ETags in
                                   ETAGS (key <TAB> etag, from `etags`).  Prints nothing when all
                                   is right, else how many are wrong and the first.
    putstore.py drop C             delete every object of C and of C+segments / C_segments (S3
                                   multipart and swiftclient segments), then the containers:
                                   bulk delete, 1,000 names a request
    putstore.py etags EXPECTED ROOT PART_SIZE...
                                   print key <TAB> etag of each file ROOT/KEY as an S3 multipart
                                   upload in parts of PART_SIZE bytes would have it (the MD5 of
                                   the parts' MD5s, '-' the number of parts), for files above
                                   the smallest PART_SIZE
"""
import hashlib
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor


def auth():
    req = urllib.request.Request(os.environ['ST_AUTH'], headers={
        'X-Auth-User': os.environ['ST_USER'], 'X-Auth-Key': os.environ['ST_KEY']})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.headers['X-Storage-Url'], r.headers['X-Auth-Token']


def call(method, url, token, body=None, headers=None, ok=(200, 201, 202, 204)):
    h = {'X-Auth-Token': token}
    h.update(headers or {})
    req = urllib.request.Request(url, data=body, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=600) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        if e.code in ok:
            return e.code, e.read()
        raise SystemExit('putstore: %s %s: %d %s' % (method, url, e.code, e.read()[:200]))


def listing(base, token, container):
    """Every entry of a container (10,000 a page), [] when it is not there."""
    out, marker = [], ''
    while True:
        st, body = call('GET', '%s/%s?format=json&limit=10000&marker=%s' % (
            base, urllib.parse.quote(container), urllib.parse.quote(marker)), token, ok=(200, 204, 404))
        page = json.loads(body) if st == 200 and body else []
        if not page:
            return out
        out += page
        marker = page[-1]['name']


def drop(base, token, container):
    for c in (container, container + '+segments', container + '_segments'):
        names = [e['name'] for e in listing(base, token, c)]

        def bulk(i, c=c, names=names):
            body = ''.join(urllib.parse.quote('/%s/%s' % (c, n)) + '\n' for n in names[i:i + 1000])
            _, out = call('POST', base + '?bulk-delete', token, body.encode(),
                          {'Content-Type': 'text/plain', 'Accept': 'application/json'})
            res = json.loads(out)
            if res.get('Errors') or not res.get('Response Status', '').startswith('200'):
                raise SystemExit('putstore: bulk delete in %s: %s' % (c, res))
        # 4 requests at once: the proxy deletes each request's names two at a time.
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(bulk, range(0, len(names), 1000)))
        call('DELETE', '%s/%s' % (base, urllib.parse.quote(c)), token, ok=(204, 404))


def check(base, token, container, expected, etags):
    want = {}
    with open(expected, encoding='utf-8') as f:
        for line in f:
            k, size, md5 = line.rstrip('\n').split('\t')
            want[k] = (int(size), md5)
    multi = {}
    if etags:
        with open(etags, encoding='utf-8') as f:
            for line in f:
                k, e = line.rstrip('\n').split('\t')
                multi.setdefault(k, set()).add(e)
    got = listing(base, token, container)
    bad = []
    seen = set()
    for e in got:
        k = e['name']
        if k not in want:
            bad.append('%s: not one of the files' % k)
            continue
        seen.add(k)
        size, md5 = want[k]
        s3 = e.get('s3_etag', '').strip('"')
        if e['bytes'] != size:
            bad.append('%s: %d bytes, want %d' % (k, e['bytes'], size))
        elif e['hash'] != md5 and s3 not in multi.get(k, ()):
            bad.append('%s: etag %s%s, want %s%s' % (k, e['hash'], ' (S3 %s)' % s3 if s3 else '', md5,
                                                      ' or one of %s' % sorted(multi[k]) if k in multi else ''))
    missing = [k for k in want if k not in seen]
    if missing:
        bad.insert(0, '%d of %d missing (first: %s)' % (len(missing), len(want), missing[0]))
    return '%d wrong in %s (%d listed); first: %s' % (len(bad), container, len(got), bad[0]) if bad else ''


def part_etags(expected, root, sizes):
    smallest = min(sizes)
    with open(expected, encoding='utf-8') as f:
        rows = [line.rstrip('\n').split('\t') for line in f]
    for k, size, _ in rows:
        if int(size) <= smallest:
            continue
        hs = [[] for _ in sizes]
        cur = [hashlib.md5() for _ in sizes]
        fill = [0 for _ in sizes]
        with open(os.path.join(root, k), 'rb') as fh:
            while True:
                b = fh.read(1 << 20)
                if not b:
                    break
                for i, ps in enumerate(sizes):
                    v = memoryview(b)
                    while v:
                        n = min(len(v), ps - fill[i])
                        cur[i].update(v[:n])
                        fill[i] += n
                        v = v[n:]
                        if fill[i] == ps:
                            hs[i].append(cur[i].digest())
                            cur[i], fill[i] = hashlib.md5(), 0
        for i, ps in enumerate(sizes):
            parts = hs[i] + ([cur[i].digest()] if fill[i] else [])
            print('%s\t%s-%d' % (k, hashlib.md5(b''.join(parts)).hexdigest(), len(parts)))


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    cmd, arg = sys.argv[1], sys.argv[2]
    if cmd == 'etags':
        part_etags(arg, sys.argv[3], [int(x) for x in sys.argv[4:]])
        return
    base, token = auth()
    if cmd == 'new':
        drop(base, token, arg)
        call('PUT', '%s/%s' % (base, urllib.parse.quote(arg)), token)
    elif cmd == 'check':
        print(check(base, token, arg, sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else ''))
    elif cmd == 'drop':
        drop(base, token, arg)
    else:
        raise SystemExit(__doc__)


if __name__ == '__main__':
    main()
