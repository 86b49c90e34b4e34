"""The notebook's method: pandas .apply + a boto3 resource, serial (cells 5, 11, 16, 28)."""
import boto3
import pandas as pd

import common


def get_metadata_boto3(key, bucket):          # the notebook's cell 16, verbatim
    if key.endswith('.zip'):
        try:
            metadata = str(bucket.Object(''.join([key, '.metadata'])).get()['Body'].read().decode('UTF-8'))
        except:  # noqa: E722 -- as the notebook; the answer check catches what it hides
            return ''
        return metadata
    else:
        return ''


a = common.args()
session = boto3.Session(aws_access_key_id=common.USER, aws_secret_access_key=common.KEY)
resource = session.resource(service_name='s3', endpoint_url=common.S3, region_name='us-east-1')
bucket = resource.Bucket(common.BUCKET)
objects_boto3 = pd.DataFrame.from_dict({'key': a.key_list}, dtype=str)


def run_once():
    objects_boto3['metadata'] = objects_boto3['key'].apply(get_metadata_boto3, bucket=bucket)
    return objects_boto3['metadata'].tolist()


common.main(run_once, a)
