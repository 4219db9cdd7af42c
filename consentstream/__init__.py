"""consentstream core: storage, Kafka, settings, identity, audit and topics every deployable shares.

The core imports no deployable (``services``, ``streams``) and no operator tool (``ops``).
"""

__version__ = "0.1.0"
