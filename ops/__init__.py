"""Operator tools: the ``consentstream`` command line, the local stack and the process manager.

This package sits above everything else: it may import the core (``consentstream``), the
shared ``schemas`` and the deployables (``services``, ``streams``), and nothing imports it back.
"""
