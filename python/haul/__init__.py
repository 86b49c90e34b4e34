"""haul from Python: submit object-store jobs to haul's C workers through Redis.

    import haul
    client = haul.Client("redis://redis.example:6379/0", key_file="~/.haul/haul.key")
    store = haul.Swift.from_env()          # or haul.S3.from_env()
    keys = client.list(store, "bucket")
    metadata = client.sidecar(keys, store, "bucket")

The package speaks docs/protocol.md itself: task.py (the codec), seal.py
(AES-256-GCM), rowmac.py (authenticated rows), submit.py and collect.py (the
scheduler's records in Redis), store.py (S3 and Swift), client.py (Client,
Job), errors.py.
"""
from .client import Client, Job
from .errors import AuthError, HaulError, JobFailed, KeyFileError, RedisError, TaskError
from .store import S3, Swift

__all__ = ["Client", "Job", "S3", "Swift", "HaulError", "AuthError", "RedisError", "JobFailed", "TaskError",
           "KeyFileError"]
__version__ = "0.1.0"
