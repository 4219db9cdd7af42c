"""The worker's Faust topics, declared with the settings the pipeline's topics are created with.

Topics are keyed by the visitor's pseudonym, so the consent decisions, the raw events and the
privacy jobs are co-partitioned and one worker sees everything about a visitor. Values and keys
are raw bytes: the agents decode them with the pydantic models of ``schemas``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import faust

from consentstream.topics import Topics

from .config import WorkerSettings


@dataclass(frozen=True)
class WorkerTopics:
    """The topics the agents read, and the dead-letter topic they park messages on."""

    names: Topics
    raw_events: faust.TopicT
    consent: faust.TopicT
    privacy_jobs: faust.TopicT
    dead_letters: faust.TopicT


def declare_topics(app: faust.App, settings: WorkerSettings) -> WorkerTopics:
    """Declare the worker's topics on ``app`` (created by ``prepare`` before the worker starts)."""
    names = Topics(settings.topic_prefix)
    partitions = settings.topic_partitions
    return WorkerTopics(
        names=names,
        raw_events=app.topic(
            names.raw_events,
            value_serializer="raw",
            key_serializer="raw",
            partitions=partitions,
            retention=timedelta(hours=settings.raw_retention_hours),
        ),
        consent=app.topic(
            names.consent,
            value_serializer="raw",
            key_serializer="raw",
            partitions=partitions,
            compacting=True,
        ),
        privacy_jobs=app.topic(
            names.privacy_jobs, value_serializer="raw", key_serializer="raw", partitions=partitions
        ),
        dead_letters=app.topic(names.dead_letters, value_serializer="raw"),
    )
