#!/usr/bin/env bash
# One command from a fresh clone to a running API with demo data:
#   scripts/run.sh            (SQLite in instance/, http://127.0.0.1:8000)
#   DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/park PORT=8080 scripts/run.sh
set -euo pipefail
# Serving needs the runtime packages only (requirements.txt); tests and lint add requirements-dev.txt.
VENV_NEEDS=runtime source "$(dirname "$0")/_venv.sh"
source "$(dirname "$0")/_frontend.sh"

mkdir -p instance
chmod 700 instance
# Local runs keep a random secret beside the database; production sets JWT_SECRET itself.
if [ -z "${JWT_SECRET:-}" ]; then
  [ -s instance/jwt_secret ] || (umask 077 && python -c 'import secrets; print(secrets.token_urlsafe(48))' > instance/jwt_secret)
  JWT_SECRET="$(cat instance/jwt_secret)"
  export JWT_SECRET
fi
if [ -z "${DEMO_PASSWORD:-}" ]; then
  [ -s instance/demo_password ] || (umask 077 && python -c 'import secrets; print(secrets.token_urlsafe(12))' > instance/demo_password)
  DEMO_PASSWORD="$(cat instance/demo_password)"
  export DEMO_PASSWORD
fi

export FLASK_APP=wsgi
flask db upgrade
flask seed-demo

port="${PORT:-8000}"
export PORT="$port"
cat <<MSG

Smart Park API on http://127.0.0.1:$port
  console: http://127.0.0.1:$port/console/  (sign in as admin, password: $DEMO_PASSWORD)
  docs:    http://127.0.0.1:$port/api/v1/docs
  OpenAPI: http://127.0.0.1:$port/api/v1/openapi.json
  try:     curl -s -X POST http://127.0.0.1:$port/api/v1/auth/login -H 'Content-Type: application/json' \\
             -d '{"username": "declarant", "password": "$DEMO_PASSWORD"}'

MSG
# The push dispatcher beside the web server (pushes go out only for providers configured in the
# environment; see README). REST and the notice stream share gunicorn's port.
flask notices dispatch &
dispatcher=$!
trap 'kill "$dispatcher" 2>/dev/null; wait "$dispatcher" 2>/dev/null' EXIT
gunicorn -c gunicorn.conf.py wsgi:app
