"""Helpers shared by the test suites: word error rate, media generation, a local HTTP server, processes."""
