"""Poison events of every kind we could think of, for the fault scenario that mixes them in.

Two ways in: through the collector (it may refuse some: those never count) and straight into
the raw topic, as an older collector without today's checks would have produced them. Each
poison message knows what must become of it once it is in the topic: ``dead_letter`` (parked
with a reason), ``stored`` (odd but valid: stored like any event), or ``either`` (valid here,
refused by some storage engine: stored or parked, never lost).
"""

from __future__ import annotations

import itertools
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import orjson

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # kafka-python's import-time warning
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from tests.sealed import opened  # noqa: E402

Fate = Literal["dead_letter", "stored", "either"]
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0"
EMOJI = "\U0001f9ea"  # 4 bytes in UTF-8


@dataclass
class Poison:
    """One poison message: the event ids (or marker) it carries and what must become of it."""

    kind: str
    fate: Fate
    ids: list[str] = field(default_factory=list)
    marker: str = ""


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def event(ts: datetime | str | None = None, **extra: Any) -> dict[str, Any]:
    """An anonymous pageview with a fresh id (time now unless given)."""
    when = ts if isinstance(ts, str) else _iso(ts or datetime.now(UTC))
    body: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "type": "pageview",
        "ts": when,
        "page": {"url": "https://example.com/poison", "title": "poison"},
    }
    body.update(extra)
    return body


def _titled(title: str) -> dict[str, Any]:
    return event(page={"url": "https://example.com/odd", "title": title})


def _props(**props: Any) -> dict[str, Any]:
    return event(type="custom", props=props)


Y2000 = datetime(2000, 1, 1, tzinfo=UTC)
Y2099 = datetime(2099, 12, 31, 23, 59, tzinfo=UTC)


def collector_bodies() -> list[tuple[str, Fate, bytes, list[str]]]:
    """Request bodies for ``POST /v1/events``: kind, fate if accepted, body, event ids."""
    now = datetime.now(UTC)
    out: list[tuple[str, Fate, bytes, list[str]]] = []

    def add(kind: str, fate: Fate, events: list[dict[str, Any]], sent_at: Any = None) -> None:
        body: dict[str, Any] = {"events": events}
        if sent_at is not None:
            body["sent_at"] = sent_at if isinstance(sent_at, str) else _iso(sent_at)
        ids = [str(e["event_id"]) for e in events]
        out.append((kind, fate, orjson.dumps(body), ids))

    add("ts 2000, sent_at 2099", "dead_letter", [event(Y2000)], Y2099)
    add("ts 2099, sent_at 2000", "dead_letter", [event(Y2099)], Y2000)
    add("ts 2000, no sent_at", "dead_letter", [event(Y2000)])
    add("ts an hour ahead", "dead_letter", [event(now + timedelta(hours=1))])
    add("NUL and RTL override", "stored", [_titled("a\u0000b\u202egnp.exe\u200f\ufeff")])
    add("4-byte emoji at max length", "stored", [_titled(EMOJI * 256)])
    add("combining marks", "stored", [_titled("Z\u0351\u0334\u0336" * 60)])
    add("2**53 and -(2**53)", "stored", [_props(big=2**53, small=-(2**53))])
    add("floats at the limits", "stored", [_props(huge=1e308, tiny=5e-324, negzero=-0.0)])
    add("max-length url", "stored", [event(page={"url": "https://example.com/" + "é" * 1020})])
    # a v1 body visitor_id and no cookie: the collector ignores the id, the event is anonymous
    add("someone else's body visitor_id", "stored", [event(visitor_id="poison_someone_else_01")])
    lone = orjson.dumps({"events": [_titled("x")]}).replace(b'"x"', b'"\\ud800x"')
    out.append(("lone surrogate, escaped", "dead_letter", lone, []))
    nan = orjson.dumps({"events": [_props(v=1)]}).replace(b'"v":1', b'"v":NaN')
    out.append(("NaN token", "either", nan, []))
    return out


def _raw_batch(events: list[dict[str, Any]], received: Any, sent: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "events": events,
        "facts": {"ip": "192.0.2.77", "user_agent": UA, "gpc": False, "dnt": False},
        "received_at": received if isinstance(received, str) else _iso(received),
        "schema_version": 1,
    }
    if sent is not None:
        body["sent_at"] = sent if isinstance(sent, str) else _iso(sent)
    return body


def direct_messages() -> list[tuple[Poison, bytes]]:
    """Raw-topic messages an older collector could have produced, with their fate."""
    now = datetime.now(UTC)
    out: list[tuple[Poison, bytes]] = []

    def add(kind: str, fate: Fate, body: dict[str, Any]) -> None:
        ids = [str(e.get("event_id")) for e in body["events"]]
        out.append((Poison(kind, fate, ids), orjson.dumps(body)))

    def add_text(kind: str, value: bytes, marker: str) -> None:
        out.append((Poison(kind, "dead_letter", marker=marker), value))

    add("ts 2000, sent_at 2099", "dead_letter", _raw_batch([event(Y2000)], now, Y2099))
    add("ts 2099, sent_at 2000", "dead_letter", _raw_batch([event(Y2099)], now, Y2000))
    # Corrected to one second before 1970: in the window, but no DateTime of 18.16 holds it.
    before_epoch = datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)
    add("received 1969", "either", _raw_batch([event(Y2000)], before_epoch, Y2000))
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    add("received at the epoch", "stored", _raw_batch([event(Y2000)], epoch, Y2000))
    add("received_at without zone", "dead_letter", _raw_batch([event()], "2026-11-30T00:00:00"))
    years = _raw_batch([event(Y2000)], "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z")
    add("received year 1, sent year 9999", "dead_letter", years)
    huge = orjson.dumps(_raw_batch([_props(n=1)], now)).replace(b'"n":1', b'"n":' + b"9" * 40)
    out.append((Poison("40-digit integer in props", "stored", _ids(huge)), huge))
    add("unknown event type", "dead_letter", _raw_batch([event(type="purchase")], now))
    add("visitor id with spaces", "dead_letter", _raw_batch([event(visitor_id="a b c d e")], now))
    mixed = _raw_batch([event(), event(), {"event_id": "not-a-uuid"}], now)
    add("one bad event in a batch", "dead_letter", mixed)
    add("NUL and emoji", "stored", _raw_batch([_titled("\u0000" + EMOJI * 255)], now))
    marker = f"poison-{uuid.uuid4()}"
    add_text("not JSON, not UTF-8", b"\xff\xfe{" + marker.encode() + b"\xc3", marker)
    lone = orjson.dumps(_raw_batch([_titled(marker)], now)).replace(
        marker.encode(), b"\\udfff" + marker.encode()
    )
    add_text("lone surrogate, escaped", lone, marker)
    marker = f"poison-{uuid.uuid4()}"
    add_text("JSON but not a message", orjson.dumps({"hello": marker}), marker)
    return out


def _ids(value: bytes) -> list[str]:
    return [str(e["event_id"]) for e in orjson.loads(value)["events"]]


def cycle_direct() -> Iterator[tuple[Poison, bytes]]:
    """Fresh direct messages forever (new ids each round)."""
    for _ in itertools.count():
        yield from direct_messages()


def cycle_collector() -> Iterator[tuple[str, Fate, bytes, list[str]]]:
    """Fresh collector bodies forever (new ids each round)."""
    for _ in itertools.count():
        yield from collector_bodies()


def produce(producer: KafkaProducer, topic: str, value: bytes) -> None:
    """Send one raw-topic message and wait for the broker's acknowledgement."""
    producer.send(topic, key=uuid.uuid4().bytes, value=value).get(timeout=30)


def dead_letters(bootstrap: str, topic: str, env: dict[str, str] | None = None) -> list[str]:
    """Every parked value on the dead-letter topic, as text (opened with ``env``'s key store)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), consumer_timeout_ms=1500)
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in parts]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        out = []
        for message in consumer:
            parked = orjson.loads(message.value)
            value = str(parked.get("value"))
            if env is not None:  # a sealed event parked by the worker: open it to find its ids
                value = (opened(value.encode(), env) or b"").decode()
            out.append(f"{parked.get('reason')}\n{value}")
        return out
    finally:
        consumer.close()
