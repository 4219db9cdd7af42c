"""Thin HTTP routes of the API."""
