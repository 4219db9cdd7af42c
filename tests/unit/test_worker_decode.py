"""The worker's decode (orjson, then validation) reads what pydantic's JSON path read."""

from __future__ import annotations

import orjson
import pytest
from pydantic import ValidationError

from schemas.messages import RawBatch
from streams.agents.events import RAW_MESSAGE, decode_raw
from tests.unit.test_pipeline import T0, raw_event


def test_a_batch_decodes_as_pydantic_json_validation_decodes_it() -> None:
    raw = raw_event()
    batch = RawBatch(
        events=[raw.event, raw_event(visitor=None).event], facts=raw.facts, received_at=T0
    )
    value = batch.model_dump_json().encode()
    assert decode_raw(value) == RAW_MESSAGE.validate_json(value) == batch
    legacy = raw.model_dump_json().encode()
    assert decode_raw(legacy) == RAW_MESSAGE.validate_json(legacy) == raw


@pytest.mark.parametrize("value", [b"", b"\xff", b"[1", b"null", b'{"events": []}'])
def test_what_does_not_decode_raises_what_the_agent_dead_letters(value: bytes) -> None:
    with pytest.raises((ValidationError, orjson.JSONDecodeError)):
        decode_raw(value)
    with pytest.raises(ValidationError):
        RAW_MESSAGE.validate_json(value)
