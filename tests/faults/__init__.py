"""Fault scenarios on real processes: nothing acknowledged is lost, nothing is stored twice."""
