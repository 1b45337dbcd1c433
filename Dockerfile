# One image for every ARCA micro-service: `docker run arca run <collector|analyzer|decider|enforcer>`.
# ARCA is installed as a user installs it: the wheel, with its runtime dependencies pinned by hash in
# requirements.lock (not an editable checkout); the ontology and YANG modules ship inside the wheel.
FROM python:3.11-slim AS wheel
WORKDIR /src
COPY . .
RUN pip wheel --no-deps --no-cache-dir -w /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1

# dependencies first (cached while only the code changes), exactly as locked
COPY requirements.lock /tmp/requirements.lock
RUN pip install --require-hashes -r /tmp/requirements.lock

# the code; the services run as an unprivileged user (fixed uid: secrets and volumes can be granted
# to it), and the installed code stays owned by root, so a service cannot modify itself
COPY --from=wheel /wheels /wheels
RUN pip install --no-deps /wheels/*.whl && rm -rf /wheels \
 && groupadd --system --gid 10001 arca \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin arca
USER 10001:10001
WORKDIR /home

EXPOSE 9100
# /readyz on the metrics port (ARCA_OPS__METRICS_PORT, 9100 in compose): 503 while the service is not
# ready (broker or store away), so `docker ps` and compose's depends_on see it
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('ARCA_OPS__METRICS_PORT', '9100'), timeout=4)" || exit 1
ENTRYPOINT ["arca"]
CMD ["--help"]
