# newmedia-monitor: the daemon (checks, alerts, notifications, monthly report) and the
# dashboard/API in one process. Data (SQLite file, reports) lives in the /data volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MONITOR_DB=/data/monitor.db \
    MONITOR_REPORTS__FOLDER=/data/reports \
    # /data/reports does not exist in a fresh volume: let the daemon create it.
    MONITOR_REPORTS__MKDIR=true \
    # Inside a container the API must listen beyond loopback to be published;
    # set MONITOR_API__TOKEN (a secret) when you publish the port.
    MONITOR_API__HOST=0.0.0.0

WORKDIR /app
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY adapters ./adapters
COPY config ./config
RUN pip install --no-cache-dir . \
    && groupadd --system --gid 10001 monitor \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --shell /usr/sbin/nologin monitor \
    && mkdir -p /data \
    && chown monitor:monitor /data

USER 10001:10001
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=60s --timeout=15s --start-period=60s --retries=3 \
    CMD ["monitor", "healthcheck"]
CMD ["monitor", "run", "--serve"]
