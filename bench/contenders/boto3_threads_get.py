"""Workload 2 (many small objects, op get): a boto3 client and 32 threads; per key
get_object, read the body, MD5 it.  Answers "SIZE<TAB>MD5" per key (smallget.py), checked
against expected.tsv by common.main() outside the timed part:

    BENCH_S3=http://127.0.0.1:PORT BENCH_BUCKET=B /usr/bin/python3 bench/contenders/boto3_threads_get.py \\
        --keys DATA_ROOT/keys.txt --expected DATA_ROOT/expected.tsv [--runs R] [--warmup W]
"""
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

import common
from smallget import answer

THREADS = 32

a = common.args()
client = boto3.client('s3', endpoint_url=common.S3, region_name='us-east-1',
                      aws_access_key_id=common.USER, aws_secret_access_key=common.KEY,
                      config=Config(max_pool_connections=THREADS))   # one connection per thread
pool = ThreadPoolExecutor(max_workers=THREADS)


def get(key):
    try:
        body = client.get_object(Bucket=common.BUCKET, Key=key)['Body'].read()
    except Exception as e:  # noqa: BLE001 -- the answer check reports it
        return 'error: %s' % e
    return answer(body)


def run_once():
    return list(pool.map(get, a.key_list))


common.main(run_once, a)
