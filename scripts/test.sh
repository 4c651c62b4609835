#!/usr/bin/env bash
# The whole test suite: on SQLite by default, on PostgreSQL when DATABASE_URL names a server
# (the tests create and drop their own database there). Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "$0")/_venv.sh"
# The dashboards' browser tests draw with the chart library npm installs.
source "$(dirname "$0")/_frontend.sh"
exec python -m pytest "$@"
