"""The rule for which decision in a visitor's consent history is in force at an event's time.

The decision and history models, and their conversions, live in ``schemas.consent``.

Including events that arrive out of order with their consent decision:

1. The decision in force is the latest one recorded at or before the event's (skew-corrected)
   time. Decisions never rewrite the past: a withdrawal applies from its recorded time on, and
   so does a new grant; an earlier decision is never replaced backwards.
2. One exception, for the visitor's *first* decision: when no decision exists at or before the
   event but one was recorded at most ``grace`` (``consent_grace_seconds``, default 5 s) after
   it, that decision applies. The snippet sends a visitor id only once the visitor chose in
   the browser; the collector records that choice a moment later (network, clock correction),
   so the first page view can carry a time just before the server's ``recorded_at``. Without
   this exception such an event would be stored under "no decision". A refusal applied this
   way is harmless (more restrictive); a grant is bounded by the grace window.
3. Processing order is a separate race: the consent agent may not yet have seen a decision
   the collector already recorded. The worker therefore also reads the collector's Redis
   mirror (written before the consent POST is answered) and merges it into the history
   (:meth:`ConsentHistory.with_decision`) before applying rules 1-2. If a decision is visible
   nowhere yet, the event is stored as necessary-only: the race can only ever fail closed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from schemas.consent import MAX_HISTORY, ConsentHistory, ConsentSnapshot

__all__ = ["MAX_HISTORY", "ConsentHistory", "ConsentSnapshot", "consent_at"]


def consent_at(
    history: ConsentHistory, ts: datetime, grace: timedelta = timedelta(0)
) -> ConsentSnapshot | None:
    """The decision in force at ``ts`` by the module's rule; None means necessary-only."""
    decisions = history.decisions
    if decisions and decisions[-1].recorded_at <= ts:
        # The common case (an event after its visitor's newest decision), asked per event: the
        # decisions are in time order, so the loop below would choose the newest one too.
        return decisions[-1]
    chosen: ConsentSnapshot | None = None
    first_after: ConsentSnapshot | None = None
    for snap in history:
        if snap.recorded_at <= ts:
            chosen = snap
        elif first_after is None or snap.recorded_at < first_after.recorded_at:
            first_after = snap
    if chosen is None and first_after is not None and first_after.recorded_at - ts <= grace:
        return first_after
    return chosen
