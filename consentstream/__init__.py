"""consentstream core: the CLI, the local stack, storage and the helpers every deployable shares."""

__version__ = "0.1.0"
