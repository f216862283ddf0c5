# One image for every chaoslab service (target `runtime`), and the chaos suite on top of it
# (target `test`). Dependencies come from the project's own pyproject.toml; the install is
# editable so the scenario files in /app/scenarios resolve as in a checkout.
FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY chaoslab ./chaoslab
COPY policies ./policies
COPY faults ./faults
COPY mock_services ./mock_services
COPY sim ./sim
COPY scenario ./scenario
COPY scenarios ./scenarios
RUN pip install -e . \
 && useradd --create-home --uid 10001 chaoslab \
 && mkdir -p /data && chown chaoslab:chaoslab /data
USER chaoslab
VOLUME ["/data"]
EXPOSE 8000
ENTRYPOINT ["python", "-m", "mock_services"]

FROM runtime AS test
USER root
RUN pip install -e ".[dev]"
COPY tests ./tests
RUN chown -R chaoslab:chaoslab /app
USER chaoslab
ENTRYPOINT ["python", "-m", "pytest"]
