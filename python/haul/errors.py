"""The exceptions haul raises, with the C side's sentences.

Every message is a sentence a user can act on, the one haul-scheduler prints
for the same failure; none holds a secret (a key, password, secret key,
token or sealing key): URLs are shown with their password as `***`.
"""


class HaulError(Exception):
    """Anything haul refuses or cannot do."""


class TaskError(HaulError):
    """A task that the codec refuses (docs/protocol.md, "How a worker decodes a
    task"): the message names the field, e.g. "task field 'keys'[3]: 2000
    bytes, limit 1024"."""


class KeyFileError(HaulError):
    """A key file that cannot be used as the sealing key (the sentence of
    common/seal.c's haul_seal_key_load)."""


class RedisError(HaulError):
    """Redis cannot be reached, refuses the password, or fails a command:
    "cannot connect to Redis at redis://127.0.0.1:1/0: ... (is redis-server
    running there? check --redis / HAUL_REDIS_URL)"."""


class AuthError(HaulError):
    """The store refused the credentials (a 401 or 403 on the workers' rows:
    "S3 GET b/k: 403 SignatureDoesNotMatch (check the secret key and
    region)"), or the workers and this client do not share the sealing key
    (their tasks were dead-lettered: "task's sealed connection state failed
    authentication: wrong key (HAUL_KEY_FILE), or the task was altered").
    `rows` holds the failed rows."""

    def __init__(self, message, rows=None):
        super().__init__(message)
        self.rows = rows if rows is not None else []


class JobFailed(HaulError):
    """A job that ended with failed rows (the collector's summary line, as
    "haul: job J: 800 keys, 790 ok, 10 errors"), or that will not complete
    (failed, cancelled, lost tasks). `rows` holds the failed rows (a
    DataFrame when pandas is there, else a list of dicts); `results` every
    row written, in order."""

    def __init__(self, message, rows=None, results=None, job=None):
        super().__init__(message)
        self.rows = rows if rows is not None else []
        self.results = results
        self.job = job
