"""``POST /v1/events``: validate, dedupe, produce, and answer 202 only when durable."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import Response

from schemas.events import EventsAccepted, Rejection
from schemas.messages import RequestFacts

from .. import batching, dedupe, ingest, responses, sealing, visitor
from ..consent import utcnow
from ..deps import State, enforce_rate_limit, get_state
from ..errors import NothingValid
from ..facts import request_facts
from ..ingest import ParsedBatch
from .direct import DirectRoute

# The collector's hot path: called directly, without per-request dependency resolution (and
# below the router: services.collector.fastpath; the declaration is what OpenAPI documents).
router = APIRouter(route_class=DirectRoute)
PATH = "/v1/events"


@router.post(
    PATH,
    status_code=202,
    response_model=EventsAccepted,
    responses=responses.events_responses(),
    openapi_extra=responses.events_request_body(),
)
async def post_events(request: Request) -> Response:
    """Accept a batch (or one event); every accepted event is in Kafka before the 202."""
    state = await get_state(request)
    await enforce_rate_limit(request, state)  # first, as the RateLimited dependency elsewhere
    ingest.check_content_type(request.headers.get("content-type"))
    body = await request.body()  # BodyLimit already refused a body over max_body_bytes
    batch = ingest.parse_events(ingest.load_json(body))
    received_at = utcnow()
    ingest.refuse_out_of_window(batch, received_at, state.window)
    for _ in batch.rejected:
        state.metrics.rejected.labels(reason="invalid").inc()
    if not batch.events:
        raise NothingValid("no valid event in the request", batch.rejected)
    peer = request.client.host if request.client else ""
    facts = request_facts(peer, request.headers, state.proxies)
    ids = ingest.event_ids(batch)
    cookie = visitor.cookie_subject(request, state)
    async with state.inflight.slot():
        accepted, who = await _store(batch, ids, facts, received_at, state, cookie)
    state.metrics.accepted.inc(accepted)
    state.metrics.duplicates.inc(len(ids) - accepted)
    response = Response(
        _answer(accepted, len(ids) - accepted, batch.rejected),
        status_code=202,
        media_type="application/json",
    )
    if who.dead:  # an erased (or forged) id: the browser forgets it, the next grant mints anew
        visitor.apply_cookie(response, visitor.cookie_for(request, state, None))
    return response


def _answer(accepted: int, duplicates: int, rejected: list[Rejection]) -> bytes:
    """The 202 body: ``EventsAccepted`` as JSON. When nothing was rejected (nearly every
    request) it is spelled from the two counts: building and serializing the model cost more
    than the rest of the answer; the test suite holds the two spellings equal."""
    if not rejected:
        return b'{"accepted":%d,"duplicates":%d,"rejected":[]}' % (accepted, duplicates)
    answer = EventsAccepted(accepted=accepted, duplicates=duplicates, rejected=rejected)
    return answer.model_dump_json().encode()


async def _store(
    batch: ParsedBatch,
    ids: list[str],
    facts: RequestFacts,
    received_at: datetime,
    state: State,
    cookie: visitor.CookieSubject,
) -> tuple[int, visitor.Visitor]:
    """Claim the new event ids, produce those events; how many were new, and whose they are.

    The cookie's suppression flag is read in the claim's round trip: an erased visitor's
    events are attributed to no one (and the cookie cleared), as the list says.
    """
    # A visitor without a cached key gets it made in the claim's step: no round trips of its
    # own to the key store and the suppression list (when both live in the main Redis).
    offer = state.sealer.offer(cookie.subject) if cookie.subject else None
    claim = await dedupe.claim_checking(
        state.redis,
        ids,
        state.settings.dedupe_ttl_seconds,
        cookie.subject,
        (offer.entry, offer.wrapped) if offer else None,
    )
    who = cookie.visitor(claim.suppressed)
    visitor.attribute_batch(state, batch, who)
    fresh = claim.fresh
    new_events = [
        (event, batch.items[index])
        for (index, event), new in zip(batch.events, fresh, strict=True)
        if new
    ]
    if not new_events:  # all retries of events already durable: nothing to wait for
        return 0, who
    claimed = [i for i, new in zip(ids, fresh, strict=True) if new]
    try:
        known = state.sealer.adopt(offer, claim.stored)
        who = await _produce(
            new_events, who, cookie, facts, received_at, batch.sent_at, state, known
        )
    except BaseException:  # also a cancelled request: a claim without its event would lose it
        await dedupe.release(state.redis, claimed)
        raise
    return len(new_events), who


async def _produce(
    new_events: list[batching.Accepted],
    who: visitor.Visitor,
    cookie: visitor.CookieSubject,
    facts: RequestFacts,
    received_at: datetime,
    sent_at: datetime | None,
    state: State,
    known: dict[str, bytes],
) -> visitor.Visitor:
    """Seal and produce the new events as ``who``'s; whose they turned out to be.

    ``known``: data keys the claim's step gave, by subject. When sealing finds the visitor
    erased after the claim read them as live (it made their key anew), the events go as an
    erased cookie's do: attributed to no one.
    """
    send = partial(_send, state, new_events, facts, received_at, sent_at, known)
    try:
        await send(visitor.request_key(who, cookie))
        return who
    except sealing.SubjectErased:
        who = cookie.visitor(True)
        visitor.attribute_events([item for _, item in new_events], None)
    await send(visitor.request_key(who, cookie))  # no one's: the day's anonymous subject
    return who


async def _send(
    state: State,
    new_events: list[batching.Accepted],
    facts: RequestFacts,
    received_at: datetime,
    sent_at: datetime | None,
    known: dict[str, bytes],
    key: bytes | None,
) -> None:
    # Keyed by the cookie's visitor: their events stay co-partitioned with their consent.
    messages = batching.messages(new_events, lambda _event: key, facts, received_at, sent_at)
    messages = await state.sealer.seal_raw(messages, received_at, known)
    await state.producer.send_all(state.topics.raw_events, messages)
