"""Old home of the privacy casework service, kept so callers not yet moved still import.

New code imports :mod:`services.api.privacy.casework`; remove this module once nothing
imports it. Note ``Casework.file`` now takes ``(actor, NewRequest)`` and returns a
``Filing`` (the row and whether it was filed now).
"""

from __future__ import annotations

from .privacy.casework import (
    CLI_ACTOR,
    SELF_SERVICE,
    Actor,
    Casework,
    Filing,
    NewRequest,
    result_with_report,
)

__all__ = [
    "CLI_ACTOR",
    "SELF_SERVICE",
    "Actor",
    "Casework",
    "Filing",
    "NewRequest",
    "result_with_report",
]
