# mypy: disable-error-code="arg-type"
# (the product types its clients as redis.asyncio.Redis; RedisCluster serves the same calls)
"""The product's Redis work on a real 3-master Redis Cluster (Debian's redis-server).

Every multi-key operation must stay in one slot; keys are hash-tagged for that (see
:mod:`consentstream.redis_keys`). Each test runs the product's own functions against a
``RedisCluster`` client: dedupe claims, consent history and suppression, the erasure's key
checks, rate limits, salts, a lock and the data-key store. One test shows the cluster really
refuses what the tags avoid, so the others prove something.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisClusterException, ResponseError

from consentstream import key_rotation, redis_keys
from consentstream.shredding import KeyStore
from consentstream.suppression import set_all_unless_suppressed
from services.collector import dedupe
from services.collector.ratelimit import RateLimiter
from streams import consent_history
from streams.consent_state import ConsentSnapshot
from streams.salts import DailySalt

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


@pytest.fixture(name="rc")
async def rc_fixture(redis_cluster_port: int) -> AsyncIterator[RedisCluster]:
    client = RedisCluster(host="127.0.0.1", port=redis_cluster_port)
    await client.initialize()
    yield client
    await client.aclose()


def snapshot(consent_id: str, minute: int) -> ConsentSnapshot:
    return ConsentSnapshot(
        consent_id=consent_id,
        recorded_at=datetime(2024, 5, 17, 9, minute, tzinfo=UTC),
        purposes=("necessary", "analytics"),
        policy_version="2024-05",
    )


async def test_the_cluster_refuses_scripts_across_slots(rc: RedisCluster) -> None:
    """What the hash tags avoid: one script over two subjects' keys is refused."""
    first, second = redis_keys.consent(uuid.uuid4().hex), redis_keys.consent(uuid.uuid4().hex)
    while rc.keyslot(first) == rc.keyslot(second):
        second = redis_keys.consent(uuid.uuid4().hex)
    with pytest.raises((ResponseError, RedisClusterException)):
        await rc.eval("return redis.call('MGET', KEYS[1], KEYS[2])", 2, first, second)


async def test_dedupe_claims_a_batch_across_slots_once(rc: RedisCluster) -> None:
    ids = [str(uuid.uuid4()) for _ in range(50)]
    assert len({rc.keyslot(redis_keys.dedupe(i)) for i in ids}) > 1
    assert await dedupe.claim(rc, ids, 60) == [True] * 50
    again = ids[:10] + [str(uuid.uuid4())]
    assert await dedupe.claim(rc, again, 60) == [False] * 10 + [True]
    await dedupe.release(rc, ids[:5])
    assert await dedupe.claim(rc, ids[:6], 60) == [True] * 5 + [False]


async def test_dedupe_claim_reads_the_suppression_flag_beside_the_claims(rc: RedisCluster) -> None:
    """The flag is in the subject's slot, the claims in theirs: both answered, nothing refused."""
    erased, live = uuid.uuid4().hex, uuid.uuid4().hex
    await rc.set(redis_keys.suppressed(erased), b"1")
    ids = [str(uuid.uuid4()) for _ in range(20)]
    first = await dedupe.claim_checking(rc, ids, 60, erased)
    assert first == dedupe.Claimed([True] * 20, suppressed=True)
    again = await dedupe.claim_checking(rc, ids[:3], 60, live)
    assert again == dedupe.Claimed([False] * 3, suppressed=False)


async def test_dedupe_claim_makes_the_subjects_data_key_in_the_flags_slot(
    rc: RedisCluster,
) -> None:
    """The data-key entry shares the flag's slot: made there for a live subject, never for an
    erased one, while the claims run in their own slots."""
    live, erased = uuid.uuid4().hex, uuid.uuid4().hex
    store = KeyStore(rc, uuid.uuid4().hex * 2)
    assert rc.keyslot(store.entry(live)) == rc.keyslot(redis_keys.suppressed(live))
    await rc.set(redis_keys.suppressed(erased), b"1")
    ids = [str(uuid.uuid4()) for _ in range(20)]
    made = await dedupe.claim_checking(rc, ids, 60, live, (store.entry(live), b"wrapped"))
    assert made == dedupe.Claimed([True] * 20, suppressed=False, stored=b"wrapped")
    again = await dedupe.claim_checking(rc, ids[:2], 60, live, (store.entry(live), b"other"))
    assert again == dedupe.Claimed([False] * 2, suppressed=False, stored=b"wrapped")
    gone = await dedupe.claim_checking(
        rc, [str(uuid.uuid4())], 60, erased, (store.entry(erased), b"k")
    )
    assert gone == dedupe.Claimed([True], suppressed=True)
    assert not await rc.exists(store.entry(erased))


async def test_consent_history_suppression_and_erasure_stay_in_one_slot(rc: RedisCluster) -> None:
    visitors = [uuid.uuid4().hex for _ in range(20)]
    for minute, visitor in enumerate(visitors):
        assert await consent_history.add(rc, visitor, snapshot(f"c{minute}", minute), 600)
    erased = visitors[0]
    await rc.set(redis_keys.suppressed(erased), b"1")
    suppressed, histories = await consent_history.load(rc, visitors)
    assert suppressed == {erased}
    assert {v: h.decisions[0].consent_id for v, h in histories.items()} == {
        visitor: f"c{minute}" for minute, visitor in enumerate(visitors)
    }
    # The erasure's checks and deletes: several keys of one subject, one slot.
    await rc.set(redis_keys.consent(erased), b"{}")
    assert await rc.exists(redis_keys.consent(erased), redis_keys.consent_history(erased)) == 2
    assert await consent_history.forget(rc, erased) == 1
    assert await consent_history.add(rc, erased, snapshot("late", 59), 600) is None
    assert await rc.exists(redis_keys.consent_history(erased)) == 0


async def test_a_takes_decisions_and_mirrors_go_in_one_pipeline_across_slots(
    rc: RedisCluster,
) -> None:
    """The consent agent's per-take writes: one script per subject, pipelined over every master."""
    visitors = [uuid.uuid4().hex for _ in range(20)]
    assert len({rc.keyslot(redis_keys.consent(v)) for v in visitors}) > 1
    erased = visitors[0]
    await rc.set(redis_keys.suppressed(erased), b"1")
    decisions = [(v, snapshot(f"c{minute}", minute)) for minute, v in enumerate(visitors)]
    histories = await consent_history.add_all(rc, decisions, 600)
    assert histories[0] is None
    assert all(h is not None and h.latest_is(f"c{m}") for m, h in enumerate(histories) if m)
    writes = [(v, redis_keys.consent(v), b"{}") for v in visitors]
    assert await set_all_unless_suppressed(rc, writes, 600) == [False] + [True] * 19


async def test_rate_limits_salts_and_locks_work_on_single_keys(rc: RedisCluster) -> None:
    limiter = RateLimiter(rc, rate=1.0, burst=2, key="cluster-test")
    waits = [await limiter.retry_after("203.0.113.7") for _ in range(3)]
    assert waits[:2] == [None, None] and waits[2] is not None
    salt = DailySalt(rc)
    now = datetime.now(UTC)
    assert await salt.for_time(now) == await DailySalt(rc).for_time(now)
    lock = rc.lock(redis_keys.intake_lock(uuid.uuid4().hex), timeout=5, blocking_timeout=0)
    assert await lock.acquire()
    assert not await rc.lock(lock.name, timeout=5, blocking_timeout=0).acquire()
    await lock.release()


async def test_the_key_store_spans_slots_and_destroys_one_subject(rc: RedisCluster) -> None:
    """Data keys of many subjects (many slots) read in one pipeline; one destroyed alone."""
    store = KeyStore(rc, "cluster-master-key-" + "x" * 20)
    subjects = [uuid.uuid4().hex for _ in range(20)]
    assert len({rc.keyslot(store.entry(s)) for s in subjects}) > 1
    made = {s: await store.get_or_create(s) for s in subjects}
    assert await store.get_many(subjects) == made
    erased = subjects[0]
    assert rc.keyslot(store.entry(erased)) == rc.keyslot(redis_keys.suppressed(erased))
    assert await store.destroy(erased) is True
    assert await store.get_many(subjects) == {**made, erased: None}


async def test_a_master_key_rotation_moves_keys_on_every_master(rc: RedisCluster) -> None:
    """The rotation's scan reaches every master, and its moves run one slot at a time."""
    old, new = uuid.uuid4().hex * 2, uuid.uuid4().hex * 2
    subjects = [uuid.uuid4().hex for _ in range(20)]
    made = {s: await KeyStore(rc, old).get_or_create(s) for s in subjects}
    during = KeyStore(rc, new, old)
    assert await during.get_many(subjects) == made
    assert await during.destroy(subjects[0])  # both entries in one command: one slot
    del made[subjects[0]]
    assert await key_rotation.pending(during) == len(made)
    report = await key_rotation.rotate(during, batch=7)
    assert (report.moved, report.gone, await key_rotation.pending(during)) == (len(made), 0, 0)
    assert await KeyStore(rc, new).get_many(list(made)) == made
