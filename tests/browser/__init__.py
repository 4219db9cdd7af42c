"""Browser tests: the web snippet in real headless Chromium against collector and worker."""
