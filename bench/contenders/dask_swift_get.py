"""Workload 2 (many small objects, op get): Dask (distributed LocalCluster, 2 workers x 4
threads) + python-swiftclient, as the notebook's winner (cells 34-42): from_pandas with
npartitions = len // 12, Series.apply of a function calling connection.get_object, compute().
Per key the body is MD5'd on the worker; answers "SIZE<TAB>MD5" (smallget.py), checked against
expected.tsv by common.main() outside the timed part:

    BENCH_ST_AUTH=http://127.0.0.1:PORT/auth/v1.0 BENCH_BUCKET=B /usr/bin/python3 \\
        bench/contenders/dask_swift_get.py --keys DATA_ROOT/keys.txt --expected DATA_ROOT/expected.tsv
"""
import pandas as pd
import swiftclient
from dask import dataframe as ddf
from distributed import Client, LocalCluster

import common
from smallget import get_object_swift


if __name__ == '__main__':
    a = common.args()
    cluster = LocalCluster(n_workers=2, threads_per_worker=4, processes=True,
                           dashboard_address=None)
    client = Client(cluster)
    connection = swiftclient.Connection(user=common.USER, key=common.KEY, authurl=common.ST_AUTH)
    connection.get_account()                  # authenticated before timing, as in the notebook
    objects_swift = pd.DataFrame.from_dict({'key': a.key_list}, dtype=str)
    objects_swift_dask = ddf.from_pandas(objects_swift, npartitions=max(1, len(a.key_list) // 12))
    objects_swift_dask['value'] = objects_swift_dask['key'].apply(
        get_object_swift, connection=connection, container_name=common.BUCKET,
        meta=pd.Series(dtype=str))

    def run_once():
        return objects_swift_dask.compute()['value'].tolist()

    try:
        common.main(run_once, a)
    finally:
        client.close()
        cluster.close()
