# syntax=docker/dockerfile:1
# One image for every process (web, worker, beat, migrate); docker-compose.yml picks the command.

# --- Stage 1: the canvas bundle. Node exists only here, so node_modules never reaches the final image.
FROM node:20-slim AS frontend
# The layout mirrors the repository because Vite writes to ../static/dist relative to frontend/.
WORKDIR /src/frontend
# Lockfile first: the npm ci layer stays cached until the dependencies change.
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci
COPY frontend/ ./
RUN npm run build

# --- Stage 2: the Python application.
FROM python:3.11-slim AS app

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    SWITCHYARD_DATA_DIR=/data

WORKDIR /app

# A fixed uid keeps file ownership on the /data volume stable across rebuilds.
RUN groupadd --system --gid 10001 switchyard \
 && useradd --system --uid 10001 --gid switchyard --create-home --home-dir /home/switchyard switchyard

# Every pinned package ships a manylinux wheel, so no compiler is installed.
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock

COPY . .
COPY --from=frontend /src/static/dist ./static/dist

# No collectstatic: ServeStatic serves through the staticfiles finders (see settings), and Vite
# has already fingerprinted the bundle.

# Settings create SWITCHYARD_DATA_DIR at import. Docker copies this directory's ownership into
# an empty named volume on first mount, so the non-root processes can write to it.
RUN mkdir -p /data /metrics && chown switchyard:switchyard /data /metrics

USER switchyard
EXPOSE 8000

CMD ["python", "-m", "config.serve", "--host", "0.0.0.0", "--port", "8000"]
