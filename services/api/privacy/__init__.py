"""Data subject requests: HTTP models, casework rules, the filing lock, exports and the service.

``models`` (HTTP bodies) · ``rules`` (pure decisions over rows) · ``intake`` (one filing per
subject at a time) · ``export`` (the portability CSV) · ``casework`` (the service the routes,
pages and CLI call).
"""
