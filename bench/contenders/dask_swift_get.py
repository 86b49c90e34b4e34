"""Workload 2 (many small objects, op get): Dask (distributed LocalCluster, 2 workers x 4
threads) + python-swiftclient, as the notebook's winner (cells 34-42): from_pandas with
npartitions = len // 12, Series.apply of a function calling connection.get_object, compute().
Per key the body is MD5'd on the worker; answers "SIZE<TAB>MD5" (smallget.py), checked against
expected.tsv by common.main() outside the timed part:

    BENCH_ST_AUTH=http://127.0.0.1:PORT/auth/v1.0 BENCH_BUCKET=B /usr/bin/python3 \\
        bench/contenders/dask_swift_get.py --keys DATA_ROOT/keys.txt --expected DATA_ROOT/expected.tsv
"""
import common
from smallget import get_object_swift

if __name__ == '__main__':
    common.dask_notebook(get_object_swift)
