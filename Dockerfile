# One image for every chaoslab service (target `runtime`), and the chaos suite on top of it
# (target `test`). Dependencies come from the project's own pyproject.toml, installed before
# the sources are copied so that editing the sources rebuilds only the last layers; the
# install is editable so the scenario files in /app/scenarios resolve as in a checkout.
# BASE_IMAGE: any Debian-like image with Python 3.11 whose `python`/`pip` are on PATH and which
# has `useradd`; `make compose-test` passes a bookworm base built with debootstrap where no
# registry serves python:3.11-slim (deploy/compose-test/base.sh).
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS deps
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml ./
# pyproject's [project] dependencies (plus, below, the dev extra), one per line, and the
# build backend, so the editable install below needs no network (--no-build-isolation)
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print(*p['dependencies'], sep=chr(10))" > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt hatchling editables && rm /tmp/requirements.txt

FROM deps AS runtime
COPY README.md ./
COPY chaoslab ./chaoslab
COPY policies ./policies
COPY faults ./faults
COPY mock_services ./mock_services
COPY sim ./sim
COPY scenario ./scenario
COPY scenarios ./scenarios
RUN pip install --no-deps --no-build-isolation -e . \
 && useradd --create-home --uid 10001 chaoslab \
 && mkdir -p /data && chown chaoslab:chaoslab /data
USER chaoslab
VOLUME ["/data"]
EXPOSE 8000
ENTRYPOINT ["python", "-m", "mock_services"]

FROM deps AS devdeps
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print(*p['optional-dependencies']['dev'], sep=chr(10))" > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt && rm /tmp/requirements.txt

FROM devdeps AS test
COPY --from=runtime /app /app
RUN pip install --no-deps --no-build-isolation -e . \
 && useradd --create-home --uid 10001 chaoslab
COPY tests ./tests
RUN chown -R chaoslab:chaoslab /app
USER chaoslab
ENTRYPOINT ["python", "-m", "pytest"]
