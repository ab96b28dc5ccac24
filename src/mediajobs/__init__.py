"""mediajobs: asynchronous media jobs over HTTP, run by Celery workers, with job truth in a database."""

__version__ = "0.1.0"

__all__ = ["__version__"]
