"""The object store a job talks to: what goes in a task's `conn` map.

`S3(...)`/`Swift(...)` hold the connection state that every task carries to
the workers (docs/protocol.md, "`conn`: the connection"). Nothing here talks
to the store: the workers do. `from_env()` reads the variables haul-scheduler
reads (AWS_* for S3; ST_AUTH/ST_USER/ST_KEY or OS_AUTH_TOKEN/OS_STORAGE_URL
for Swift). No secret appears in repr(), str() or any message; a store cannot
be pickled, so it never lands in a Dask graph or a file by accident.
"""
import os

from .errors import HaulError
from .task import SECRETS, conn_check, conn_describe


class Store:
    kind = None

    def __init__(self, **conn):
        self._conn = {k: v for k, v in conn.items()}
        self._conn["kind"] = self.kind
        self._conn.setdefault("tls_verify", True)
        e = conn_check(self._conn)
        if e:
            raise HaulError(e)

    def conn(self):
        """The `conn` map's entries (secrets included: for the codec only)."""
        return dict(self._conn)

    def describe(self):
        """haul_conn_describe(): kind, endpoint, region or user; never a secret."""
        return conn_describe(self._conn)

    def __repr__(self):
        return "haul.%s(%s)" % (type(self).__name__, self.describe())

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("a haul store holds credentials and cannot be pickled; make it where it is used "
                        "(%s.from_env())" % type(self).__name__)

    def __eq__(self, other):
        return type(self) is type(other) and self._conn == other._conn

    __hash__ = None

    def _secrets(self):
        return [self._conn[k] for k in SECRETS if self._conn.get(k)]


class S3(Store):
    """S3 (or any S3 API: Ceph RGW, Swift's s3api), path-style unless
    virtual_host=True."""
    kind = "s3"

    def __init__(self, endpoint, access_key, secret_key, region="us-east-1", session_token=None,
                 virtual_host=False, tls_verify=True, ca_file=None):
        endpoint = endpoint.rstrip("/") if endpoint else endpoint
        super().__init__(ca_file=ca_file, endpoint=endpoint, region=region, access_key=access_key,
                         secret_key=secret_key, session_token=session_token, path_style=not virtual_host,
                         tls_verify=tls_verify)

    @classmethod
    def from_env(cls, **override):
        """AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION
        (us-east-1), AWS_SESSION_TOKEN; keyword arguments win."""
        e = os.environ
        kw = dict(endpoint=e.get("AWS_ENDPOINT_URL"), access_key=e.get("AWS_ACCESS_KEY_ID"),
                  secret_key=e.get("AWS_SECRET_ACCESS_KEY"), region=e.get("AWS_REGION") or "us-east-1",
                  session_token=e.get("AWS_SESSION_TOKEN"))
        kw.update(override)
        return cls(**kw)


class Swift(Store):
    """OpenStack Swift: auth v1.0 (auth_url, user, key), or a pre-issued token
    with its storage URL."""
    kind = "swift"

    def __init__(self, auth_url=None, user=None, key=None, token=None, storage_url=None, tls_verify=True,
                 ca_file=None):
        if token:  # as haul-scheduler: a token wins over credentials
            auth_url = user = key = None
        super().__init__(ca_file=ca_file, auth_url=auth_url, user=user, key=key, token=token,
                         storage_url=storage_url, tls_verify=tls_verify)

    @classmethod
    def from_env(cls, **override):
        """ST_AUTH, ST_USER, ST_KEY, or OS_AUTH_TOKEN and OS_STORAGE_URL; keyword
        arguments win."""
        e = os.environ
        kw = dict(auth_url=e.get("ST_AUTH"), user=e.get("ST_USER"), key=e.get("ST_KEY"),
                  token=e.get("OS_AUTH_TOKEN"), storage_url=e.get("OS_STORAGE_URL"))
        kw.update(override)
        return cls(**kw)
