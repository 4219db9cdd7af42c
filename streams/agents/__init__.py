"""The worker's agents, one module each: events, consent, privacy jobs.

Agents only decode, gather context, run the pure pipeline and sink (or forward); what they
share is a :class:`~streams.clients.WorkerClients`.
"""
