# One image for every ARCA micro-service: `docker run arca run <collector|analyzer|decider|enforcer>`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

# dependencies first (cached while only the code changes)
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > /tmp/requirements.txt && pip install -r /tmp/requirements.txt

# the code, installed in place (the ontology/ and yang/ files are found next to the packages)
COPY . .
# the services run as an unprivileged user (fixed uid: secrets and volumes can be granted to it);
# the code stays owned by root, so the service cannot modify itself
RUN pip install --no-deps -e . \
 && groupadd --system --gid 10001 arca \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin arca
USER 10001:10001

EXPOSE 9100
ENTRYPOINT ["arca"]
CMD ["--help"]
