"""One stream worker: the Faust app, its topics, the shared clients and the agents on them."""

from __future__ import annotations

from consentstream.storage.base import Storage

from .agents.consent import ConsentAgents
from .agents.events import EventsAgent
from .agents.privacy import PrivacyAgent
from .app import WorkerApp, create_app
from .clients import WorkerClients
from .config import WorkerSettings
from .metrics import WorkerMetrics
from .minimize import load_user_agent_rules
from .processors import ProcessorDeletions
from .topics import WorkerTopics, declare_topics


class Worker:
    """Builds the app and registers the agents; the clients close when the app shuts down."""

    def __init__(self, settings: WorkerSettings, storage: Storage | None = None) -> None:
        self.settings = settings
        self.app: WorkerApp = create_app(settings)
        self.topics: WorkerTopics = declare_topics(self.app, settings)
        self.clients = WorkerClients(settings, self.topics, storage)
        self.app.closers.append(self.clients.close)
        events = EventsAgent(self.clients)
        load_user_agent_rules()
        consent = ConsentAgents(self.clients)
        processors = ProcessorDeletions(
            settings, self.clients.repo, self.clients.redis, self.clients.receipt_signer.sign
        )
        self.app.closers.insert(0, processors.close)
        privacy = PrivacyAgent(self.clients, self.app, processors)
        agent = self.app.agent
        agent(self.topics.raw_events, name="process_events")(events.process_events)
        agent(self.topics.consent, name="track_consent")(consent.track_consent)
        agent(self.topics.consent, name="record_consent")(consent.record_consent)
        agent(self.topics.privacy_jobs, name="run_privacy_jobs")(privacy.run_privacy_jobs)
        sweep = self.app.timer(settings.processor_sweep_seconds, name="retry_processor_deletions")
        sweep(processors.sweep)

    @property
    def metrics(self) -> WorkerMetrics:
        """The worker's Prometheus counters (served by ``python -m streams``)."""
        return self.clients.metrics
