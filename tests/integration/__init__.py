"""consentstream package."""
