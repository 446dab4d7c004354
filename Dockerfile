# syntax=docker/dockerfile:1
# cronwatch: one image for the scheduler, the shipper and the alerter (`docker compose` picks the
# command). Multi-stage: build a wheel, install it into a slim runtime that runs as a non-root user.
ARG PYTHON_VERSION=3.12

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
# a C compiler and zlib's header for the compiled hot paths (shipper/_speedups.c,
# alerter/_speedups.c, see setup.py); the runtime stage gets only the built wheels
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends gcc libc6-dev zlib1g-dev >/dev/null \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY cronwatch ./cronwatch
COPY scheduler ./scheduler
COPY shipper ./shipper
COPY alerter ./alerter
RUN pip wheel --no-cache-dir --wheel-dir /wheels . \
 && python -c "import glob, sys, zipfile; names = zipfile.ZipFile(glob.glob('/wheels/cronwatch-*.whl')[0]).namelist(); \
sys.exit(0 if all(any(n.startswith(m) and n.endswith('.so') for n in names) for m in ('shipper/_speedups', 'alerter/_speedups')) \
else 'the compiled parts were not built')"

FROM python:${PYTHON_VERSION}-slim-bookworm
LABEL org.opencontainers.image.title="cronwatch" \
      org.opencontainers.image.description="Observability pipeline for scheduled jobs: scheduler, log shipper, alert router" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHON=python3
RUN groupadd --system --gid 10001 cronwatch \
 && useradd --system --uid 10001 --gid cronwatch --home-dir /var/lib/cronwatch --shell /usr/sbin/nologin cronwatch \
 && mkdir -p /var/lib/cronwatch /var/log/cronwatch/jobs /etc/cronwatch \
 && chown -R cronwatch:cronwatch /var/lib/cronwatch /var/log/cronwatch
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index /wheels/*.whl && rm -rf /wheels
# The example tasks (examples/tasks.yml) so the image runs the demo workload out of the box.
COPY --chown=cronwatch:cronwatch examples/tasks.yml /etc/cronwatch/examples/tasks.yml
COPY --chown=cronwatch:cronwatch examples/tasks /etc/cronwatch/examples/tasks
USER cronwatch
WORKDIR /var/lib/cronwatch
# scheduler API + /metrics, shipper /metrics, alerter API + /metrics
EXPOSE 9464 9465 9093
ENTRYPOINT ["cronwatch"]
CMD ["--help"]
