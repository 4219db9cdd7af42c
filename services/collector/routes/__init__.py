"""Thin HTTP routes of the collector; logic lives in the plain modules beside them."""
