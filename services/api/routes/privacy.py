"""``/v1/privacy/requests``: file a data subject request and follow it to its result."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from .. import requests
from ..deps import PrivacyKey, State
from ..errors import NotFound

router = APIRouter(prefix="/v1/privacy", tags=["privacy"])


@router.post("/requests", status_code=202, response_model=requests.PrivacyRequestFiled)
async def file_request(
    body: requests.PrivacyRequestIn, state: State, _key: PrivacyKey
) -> requests.PrivacyRequestFiled:
    """File a request; a privacy-role key files it pre-verified and the worker starts on it."""
    secret = state.settings.pseudonym_key.get_secret_value()
    row = requests.new_request(body, secret, state.settings.request_deadline_days, "verified")
    await asyncio.to_thread(state.repo.save_privacy_request, row)
    job = requests.job_of(row)
    await state.producer.send_all(
        state.topics.privacy_jobs, [(row.subject_key.encode(), job.model_dump_json().encode())]
    )
    return requests.PrivacyRequestFiled(request_id=row.request_id, status=row.status)


@router.get("/requests/{request_id}", response_model=requests.PrivacyRequestOut)
async def get_request(
    request_id: str, state: State, _key: PrivacyKey
) -> requests.PrivacyRequestOut:
    """Status, deadline, and for a finished request its report or receipt."""
    row = await asyncio.to_thread(state.repo.get_privacy_request, request_id)
    if row is None:
        raise NotFound(f"no privacy request {request_id!r}")
    return requests.view(row)
