#!/usr/bin/python3
"""smallobjs.py -- the objects of workload 2: many small files for a static server (nginx).

    /usr/bin/python3 bench/lib/smallobjs.py DATA_ROOT BUCKET N [--seed S] [--min 1024] [--max 16384]

writes N objects under DATA_ROOT/BUCKET/, as a store would hold them in bucket BUCKET:

    DATA_ROOT/BUCKET/small/0000/obj-0000000.bin ... small/0199/obj-0199999.bin

(key small/DDDD/obj-NNNNNNN.bin, DDDD = NNNNNNN // 1000: 1000 files per directory), each of a
size uniform in [--min, --max] bytes (1..16 KiB) and of pseudo-random content, plus

    DATA_ROOT/keys.txt       the N keys, one per line, in order (haul-scheduler --keys)
    DATA_ROOT/expected.tsv   key <TAB> size <TAB> md5hex, in the same order

The same N and seed give the same files, byte for byte (random.Random(seed)).  Each body is a
slice of one 32 MiB random buffer at a random offset, so 200,000 objects take a few seconds
(file creation dominates); bodies overlap but are distinct (offset and size both vary).  Put
DATA_ROOT on tmpfs (/dev/shm) so the server reads from memory: 200,000 objects are about
1.7 GB of data.  Prints one summary line on stderr.
"""
import argparse
import hashlib
import os
import random
import shutil
import sys
import time

POOL = 32 << 20         # the random buffer the bodies are sliced from
PER_DIR = 1000          # files per directory


def key_of(i):
    return 'small/%04d/obj-%07d.bin' % (i // PER_DIR, i)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('data_root')
    ap.add_argument('bucket')
    ap.add_argument('n', type=int)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--min', type=int, default=1024, help='smallest object, bytes (1024)')
    ap.add_argument('--max', type=int, default=16384, help='largest object, bytes (16384)')
    a = ap.parse_args()
    if a.n < 1 or a.n > 10**7 or not 1 <= a.min <= a.max <= POOL:
        ap.error('need 1 <= N <= 10^7 and 1 <= --min <= --max <= %d' % POOL)
    if '/' in a.bucket or a.bucket in ('', '.', '..'):
        ap.error('BUCKET must be one path segment')

    need = a.n * ((a.min + a.max) // 2 + 4096)      # data + a page of slack per file
    os.makedirs(a.data_root, exist_ok=True)
    free = shutil.disk_usage(a.data_root).free
    if need > free:
        sys.exit('smallobjs: %s has %.1f GB free; %d objects need about %.1f GB'
                 % (a.data_root, free / 1e9, a.n, need / 1e9))

    t0 = time.perf_counter()
    rng = random.Random(a.seed)
    pool = memoryview(rng.randbytes(POOL))
    base = os.path.join(a.data_root, a.bucket)
    total = 0
    with open(os.path.join(a.data_root, 'keys.txt.tmp'), 'w', encoding='ascii') as kf, \
            open(os.path.join(a.data_root, 'expected.tsv.tmp'), 'w', encoding='ascii') as ef:
        for i in range(a.n):
            if i % PER_DIR == 0:
                os.makedirs(os.path.join(base, 'small', '%04d' % (i // PER_DIR)), exist_ok=True)
            size = rng.randint(a.min, a.max)
            off = rng.randrange(POOL - size + 1)
            body = pool[off:off + size]
            key = key_of(i)
            fd = os.open(os.path.join(base, key), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                if os.write(fd, body) != size:
                    sys.exit('smallobjs: short write to %s' % key)
            finally:
                os.close(fd)
            kf.write(key + '\n')
            ef.write('%s\t%d\t%s\n' % (key, size, hashlib.md5(body).hexdigest()))
            total += size
    for name in ('keys.txt', 'expected.tsv'):
        os.replace(os.path.join(a.data_root, name + '.tmp'), os.path.join(a.data_root, name))
    print('smallobjs: %d objects, %.1f MB, in %s/%s (seed %d) in %.1f s' % (
        a.n, total / 1e6, a.data_root, a.bucket, a.seed, time.perf_counter() - t0),
        file=sys.stderr)


if __name__ == '__main__':
    main()
