"""The name under which a fault scenario hands its figures line to the run's summary."""

FIGURES = "fault_figures"
"""The user property holding a fault scenario's figures line (printed by tests/conftest.py)."""
