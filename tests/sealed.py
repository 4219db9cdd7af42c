"""Reading sealed Kafka values back in tests, as an operator holding the master key could.

Tests read what reached Kafka with kafka-python; a sealed value is opened with its subject's
data key straight from the key store (the Redis the settings name), or None once destroyed.
"""

from __future__ import annotations

import os

from redis import Redis

from consentstream.sealing import is_sealed, open_message, read_envelope
from consentstream.settings import CommonSettings
from consentstream.shredding import KeyStore


def opened(value: bytes, env: dict[str, str] | None = None) -> bytes | None:
    """The message inside ``value`` (as is when not sealed); None when its key is gone.

    ``env`` names the master key and key store of the run (default: this process's).
    """
    if not is_sealed(value):
        return value
    envelope = read_envelope(value)
    assert envelope is not None, "a sealed value with a broken envelope"
    subject, sealed = envelope
    environ = env if env is not None else dict(os.environ)
    master = environ["CONSENTSTREAM_MASTER_KEY"]
    url = (
        environ.get("CONSENTSTREAM_KEYSTORE_URL")
        or environ.get("CONSENTSTREAM_REDIS_URL")
        or CommonSettings().keystore_redis_url
    )
    store = KeyStore(None, master)  # type: ignore[arg-type]  # names and unwraps; no I/O
    with Redis.from_url(url) as redis:
        wrapped = redis.get(store.entry(subject))
    if wrapped is None:
        return None
    data_key = store.unwrap(subject, wrapped)
    return open_message(data_key, subject, sealed)
