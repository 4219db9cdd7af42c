"""The worker's unsealer: what it opens, drops as erased, passes on, and parks sealed."""

from __future__ import annotations

from datetime import UTC, datetime

from consentstream.sealing import KeyCache, as_text, read_envelope, seal_message
from consentstream.shredding import new_data_key
from schemas.events import Event
from schemas.messages import RawEvent, RequestFacts
from streams.metrics import WorkerMetrics
from streams.unsealing import Unsealer

TOPIC = "t.events.raw"
VISITOR = "visitor_0001"
SUBJECT = "s" * 32  # the pseudonym below maps every visitor to it
PLAIN = b'{"events": "as an older collector sent it"}'


class _Keys(KeyCache):
    """Keys from a dict instead of the key store (no I/O here)."""

    def __init__(self, keys: dict[str, bytes | None]) -> None:
        self.keys = keys

    async def for_opening(self, subject_keys: object) -> dict[str, bytes | None]:
        return {s: self.keys.get(s) for s in subject_keys}  # type: ignore[attr-defined]


def unsealer(keys: dict[str, bytes | None]) -> tuple[Unsealer, WorkerMetrics]:
    metrics = WorkerMetrics()
    return Unsealer(_Keys(keys), metrics, lambda vid: SUBJECT), metrics


def shredded(metrics: WorkerMetrics) -> float:
    return metrics.shredded.labels(TOPIC)._value.get()  # type: ignore[no-any-return]


def raw() -> RawEvent:
    now = datetime.now(UTC)
    event = Event.model_validate(
        {
            "event_id": "3f2b8f0e-5b7c-4d0a-9c1e-2a6f0d9b7c11",
            "type": "pageview",
            "ts": now.isoformat(),
            "visitor_id": VISITOR,
        }
    )
    return RawEvent(event=event, facts=RequestFacts(ip="203.0.113.9"), received_at=now)


async def test_sealed_values_open_and_plain_ones_pass_through() -> None:
    key = new_data_key()
    sealer, metrics = unsealer({SUBJECT: key})
    document = raw().model_dump_json().encode()
    sealed = seal_message(key, SUBJECT, document)
    assert await sealer.open_all([sealed, as_text(sealed), PLAIN], TOPIC) == [
        document,
        document,
        PLAIN,
    ]
    assert shredded(metrics) == 0


async def test_a_value_whose_key_is_gone_is_dropped_and_counted() -> None:
    sealer, metrics = unsealer({SUBJECT: None})
    sealed = seal_message(new_data_key(), SUBJECT, b"{}")
    assert await sealer.open_all([sealed, sealed], TOPIC) == [None, None]
    assert shredded(metrics) == 2


async def test_a_tampered_value_stays_sealed_for_the_dead_letters() -> None:
    key = new_data_key()
    sealer, _ = unsealer({SUBJECT: key})
    sealed = bytearray(seal_message(key, SUBJECT, b'{"facts": {"ip": "203.0.113.9"}}'))
    sealed[-1] ^= 1
    assert await sealer.open_one(bytes(sealed), TOPIC) == bytes(sealed)


async def test_a_parked_event_is_resealed_under_its_takes_key() -> None:
    key = new_data_key()
    sealer, _ = unsealer({SUBJECT: key})
    event = raw()
    await sealer.open_all([seal_message(key, SUBJECT, event.model_dump_json().encode())], TOPIC)
    parked = sealer.reseal(event, TOPIC)
    assert parked is not None and b"203.0.113.9" not in parked and VISITOR.encode() not in parked
    envelope = read_envelope(parked)
    assert envelope is not None and envelope[0] == SUBJECT


async def test_no_key_at_hand_never_parks_plaintext_unless_the_event_came_plain() -> None:
    sealer, metrics = unsealer({"other" * 8: new_data_key()})
    event = raw()
    other = seal_message(new_data_key(), "other" * 8, b"{}")
    await sealer.open_all([other], TOPIC)
    assert sealer.reseal(event, TOPIC) is None
    assert shredded(metrics) == 1
    as_sent = event.model_dump_json().encode()  # as an older collector sent it, mid-take
    await sealer.open_all([other, as_sent], TOPIC)
    assert sealer.reseal(event, TOPIC) == as_sent
