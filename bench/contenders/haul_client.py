"""haul's Python client (python/haul) doing the notebook's job: client.sidecar(keys, store,
bucket) on a queue served by haul workers that bench.py started (HaulPython). Timed as the
call itself, the client made (and Redis connected) before, as in the notebook; its CPU is
this process's alone (the workers' is counted by bench.py): the client's own overhead.
    BENCH_REDIS=redis://...  BENCH_QUEUE=...  BENCH_API=swift|s3"""
import os

import common
import haul

a = common.args()
client = haul.Client(os.environ['BENCH_REDIS'])
if os.environ.get('BENCH_API', 'swift') == 's3':
    store = haul.S3(common.S3, access_key=common.USER, secret_key=common.KEY)
else:
    store = haul.Swift(auth_url=common.ST_AUTH, user=common.USER, key=common.KEY)
queue = os.environ['BENCH_QUEUE']


def run_once():
    return client.sidecar(a.key_list, store, common.BUCKET, queue=queue, progress=False, retention=0)


common.main(run_once, a)
