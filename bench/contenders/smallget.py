"""Workload 2 (many small objects, op get): what the Python contenders return per key, and
the notebook-style swiftclient function.  A module of its own so that Dask's worker
processes import it by name, as dask_swift.py's do notebook.py.

Each answer is "SIZE<TAB>MD5HEX" of the body, which is exactly the value column of
bench/lib/smallobjs.py's expected.tsv (key TAB size TAB md5) as common.args() reads it
(key, then the rest of the line): common.check() compares them after the timed part.
A failed GET answers "error: ..." (and so fails the check)."""
import hashlib


def answer(body):
    return '%d\t%s' % (len(body), hashlib.md5(body).hexdigest())


def get_object_swift(key, connection, container_name):   # in the style of the notebook's cell 17
    try:
        body = connection.get_object(container_name, key)[1]
    except Exception as e:  # noqa: BLE001 -- the answer check reports it
        return 'error: %s' % e
    return answer(body)
