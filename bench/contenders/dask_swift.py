"""Dask (distributed LocalCluster, 2 workers x 4 threads) + python-swiftclient, the notebook's
winner (cells 34-42): from_pandas with npartitions = len // 12, Series.apply, compute()
(common.dask_notebook)."""
import common
from notebook import get_metadata_swift

if __name__ == '__main__':
    common.dask_notebook(get_metadata_swift)
