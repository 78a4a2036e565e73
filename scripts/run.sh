#!/usr/bin/env bash
# Start nerlab on one machine: migrate, load the demo project, then the web server and one Celery worker together.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
HOST=${NERLAB_HOST:-127.0.0.1}
PORT=${NERLAB_PORT:-8000}
mkdir -p data
"$PY" manage.py migrate --noinput
"$PY" manage.py load_demo
"$PY" -m celery -A config worker --loglevel=INFO --concurrency="${NERLAB_WORKER_CONCURRENCY:-1}" &
worker=$!
trap 'kill "$worker" 2>/dev/null; wait "$worker" 2>/dev/null' EXIT INT TERM
echo
echo "nerlab is starting at http://$HOST:$PORT/ (Ctrl-C stops the server and the worker)"
"$PY" manage.py runserver "$HOST:$PORT"
