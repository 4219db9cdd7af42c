"""Storage for consentstream: one small interface, two backends chosen by URL.

- ``clickhouse://[user[:password]@]host[:port]/database[?secure=1]`` — a ClickHouse server
  over the native protocol (port 9000 by default), via clickhouse-driver. Cluster mode:
  ``?cluster=name`` (a cluster of the server's ``remote_servers``) keeps rows in replicated
  tables behind Distributed ones and runs DDL ``ON CLUSTER``; ``alt_hosts=h:p,h:p`` names
  further nodes to connect to when the first is down.
- ``chdb:///data/path[?database=name]`` — chdb, ClickHouse inside this process, persisting
  at the path; ``chdb://`` alone uses a temporary directory removed on close (tests).

The database defaults to ``consentstream``. Callers hold a :class:`Storage` and use
:mod:`consentstream.storage.repository` for the queries the product needs.
"""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

from consentstream.storage import sql
from consentstream.storage.base import Features, Storage
from consentstream.storage.errors import (
    DataRefused,
    InvalidStorageURL,
    MutationTimeout,
    QueryError,
    StorageError,
    StorageUnavailable,
)
from consentstream.storage.sql import quote_identifier

__all__ = [
    "DataRefused",
    "Features",
    "InvalidStorageURL",
    "MutationTimeout",
    "QueryError",
    "Storage",
    "StorageError",
    "StorageUnavailable",
    "open_storage",
    "redact_url",
    "sql",
]

DEFAULT_DATABASE = "consentstream"
_TRUE = {"1", "true", "yes", "on"}


def open_storage(
    url: str, *, pool_size: int = 4, usage_retention_days: int | None = None
) -> Storage:
    """Open the backend the URL names and detect its version (connects immediately).

    ``pool_size`` bounds concurrent server connections; ``usage_retention_days`` adds a TTL
    to usage events on engines that have TTL (older ones rely on a scheduled purge).
    Raises :class:`InvalidStorageURL` for a bad URL, :class:`StorageUnavailable` if the
    database cannot be reached.
    """
    parts = urlsplit(url)
    options = _options(parts.query)
    if usage_retention_days is not None and usage_retention_days <= 0:
        raise InvalidStorageURL("usage_retention_days must be positive")
    if parts.scheme == "clickhouse":
        return _open_server(url, options, pool_size, usage_retention_days)
    if parts.scheme == "chdb":
        # chdb embeds a whole ClickHouse (slow to import, large in memory): loaded only when used.
        from consentstream.storage.embedded import EmbeddedStorage

        database = _database(options.pop("database", DEFAULT_DATABASE))
        if options:
            raise InvalidStorageURL(f"unknown storage URL options: {', '.join(sorted(options))}")
        path = parts.netloc + parts.path
        return EmbeddedStorage(
            url=redact_url(url),
            database=database,
            path=unquote(path) or None,
            usage_retention_days=usage_retention_days,
        )
    raise InvalidStorageURL(
        f"unsupported storage URL scheme {parts.scheme!r}: use clickhouse://host:9000/db or"
        " chdb:///path"
    )


def _open_server(
    url: str, options: dict[str, str], pool_size: int, usage_retention_days: int | None
) -> Storage:
    # Loaded only when used, like the embedded backend: a chdb:// process never needs the driver.
    from consentstream.storage.server import ServerStorage

    parts = urlsplit(url)
    if not parts.hostname:
        raise InvalidStorageURL(
            "clickhouse:// URL needs a host, e.g. clickhouse://127.0.0.1:9000/db"
        )
    try:
        port = parts.port or 9000
    except ValueError as exc:
        raise InvalidStorageURL("clickhouse:// URL has an invalid port") from exc
    secure = options.pop("secure", "0").lower() in _TRUE
    cluster = options.pop("cluster", "") or None
    if cluster is not None:
        _identifier("cluster name", cluster)
    alt_hosts = options.pop("alt_hosts", "")
    if options:
        raise InvalidStorageURL(f"unknown storage URL options: {', '.join(sorted(options))}")
    client_kwargs = {
        "host": parts.hostname,
        "port": port,
        "user": unquote(parts.username or "default"),
        "password": unquote(parts.password or ""),
        "database": "default",
        "secure": secure,
        "connect_timeout": 5,
        "send_receive_timeout": 60,
        "client_name": "consentstream",
    }
    if alt_hosts:
        client_kwargs["alt_hosts"] = alt_hosts
    return ServerStorage(
        url=redact_url(url),
        database=_database(parts.path.lstrip("/") or DEFAULT_DATABASE),
        client_kwargs=client_kwargs,
        pool_size=pool_size,
        usage_retention_days=usage_retention_days,
        cluster=cluster,
    )


def _options(query: str) -> dict[str, str]:
    return {key: values[-1] for key, values in parse_qs(query, keep_blank_values=True).items()}


def _database(name: str) -> str:
    return _identifier("database name", name)


def _identifier(what: str, name: str) -> str:
    try:
        quote_identifier(name)
    except ValueError as exc:
        raise InvalidStorageURL(f"invalid {what} in storage URL: {exc}") from exc
    return name


def redact_url(url: str) -> str:
    """The URL without its password, for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
