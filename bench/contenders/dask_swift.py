"""Dask (distributed LocalCluster, 2 workers x 4 threads) + python-swiftclient, the notebook's
winner (cells 34-42): from_pandas with npartitions = len // 12, Series.apply, compute()."""
import pandas as pd
import swiftclient
from dask import dataframe as ddf
from distributed import Client, LocalCluster

import common
from notebook import get_metadata_swift


if __name__ == '__main__':
    a = common.args()
    cluster = LocalCluster(n_workers=2, threads_per_worker=4, processes=True,
                           dashboard_address=None)
    client = Client(cluster)
    connection = swiftclient.Connection(user=common.USER, key=common.KEY, authurl=common.ST_AUTH)
    connection.get_account()                  # authenticated before timing, as in the notebook
    objects_swift = pd.DataFrame.from_dict({'key': a.key_list}, dtype=str)
    objects_swift_dask = ddf.from_pandas(objects_swift, npartitions=len(a.key_list) // 12)
    objects_swift_dask['metadata'] = objects_swift_dask['key'].apply(
        get_metadata_swift, connection=connection, container_name=common.BUCKET,
        meta=pd.Series(dtype=str))

    def run_once():
        return objects_swift_dask.compute()['metadata'].tolist()

    try:
        common.main(run_once, a)
    finally:
        client.close()
        cluster.close()
