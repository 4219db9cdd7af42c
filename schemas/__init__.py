"""Shared wire and storage models: what the collector, the stream worker and the API share.

Every model is frozen, forbids unknown fields and carries a ``schema_version`` where it crosses a
process boundary (HTTP body, Kafka payload, ClickHouse row).
"""
