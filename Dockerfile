# syntax=docker/dockerfile:1
# Build stage: install the pinned dependencies into a virtualenv.
FROM python:3.11-slim AS build
RUN python -m venv /venv
COPY requirements.txt /tmp/requirements.txt
RUN /venv/bin/pip install --no-cache-dir --disable-pip-version-check -r /tmp/requirements.txt

# Runtime stage: the venv and the code, run as an unprivileged user. Chromium is for the
# automatic email + one-time-code sign-in (BROWSER_EXECUTABLE); Playwright drives it.
FROM python:3.11-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium fonts-liberation \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --create-home --home-dir /home/gbp gbp \
    && mkdir -p /data && chown gbp:gbp /data && chmod 700 /data
COPY --from=build /venv /venv
WORKDIR /srv/gemini-business-proxy
COPY app ./app
COPY simulator ./simulator
COPY wsgi.py gunicorn.conf.py ./
ENV PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SERVER_ADDRESS=0.0.0.0 \
    SERVER_PORT=8080 \
    DATA_DIR=/data
USER gbp
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % (os.environ.get('SERVER_PORT') or os.environ.get('PORT') or 8080), timeout=4)"
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
