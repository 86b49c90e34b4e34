"""What a Python user would write instead: a boto3 client and 32 threads."""
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

import common

THREADS = 32

a = common.args()
client = boto3.client('s3', endpoint_url=common.S3, region_name='us-east-1',
                      aws_access_key_id=common.USER, aws_secret_access_key=common.KEY,
                      config=Config(max_pool_connections=THREADS))
pool = ThreadPoolExecutor(max_workers=THREADS)


def get(key):
    if not key.endswith('.zip'):
        return ''
    try:
        return client.get_object(Bucket=common.BUCKET, Key=key + '.metadata')['Body'].read().decode('utf-8')
    except Exception:  # noqa: BLE001 -- the answer check catches what it hides
        return ''


def run_once():
    return list(pool.map(get, a.key_list))


common.main(run_once, a)
