# Sourced by run.sh (the runtime alone: VENV_NEEDS=runtime) and by test.sh and .ci/run (runtime plus tests and
# lint, the default): make .venv exist and hold what the caller needs at the versions constraints.txt pins, then
# use it. Re-installs only when requirements.txt, requirements-dev.txt or constraints.txt changed since the last
# install, or when the tests need what a runtime-only install left out.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
python="${PYTHON:-python3}"
needs="${VENV_NEEDS:-dev}"
case "$needs" in
  runtime) requirements="$root/requirements.txt" ;;
  dev) requirements="$root/requirements-dev.txt" ;;
  *) echo "VENV_NEEDS must be runtime or dev, not $needs" >&2; exit 2 ;;
esac
if [ ! -x "$venv/bin/python" ]; then
  echo "Creating $venv with $($python --version)" >&2
  "$python" -m venv "$venv"
fi
stamp="$venv/.requirements.sha256"
pins="$(cat "$root/requirements.txt" "$root/requirements-dev.txt" "$root/constraints.txt" | sha256sum | cut -d' ' -f1)"
installed="$(cat "$stamp" 2>/dev/null || true)"
# A dev install serves the runtime too; a runtime install does not serve the tests.
if [ "$installed" != "$pins dev" ] && [ "$installed" != "$pins $needs" ]; then
  echo "Installing $(basename "$requirements") into $venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" -c "$root/constraints.txt"
  echo "$pins $needs" > "$stamp"
fi
export PATH="$venv/bin:$PATH"
cd "$root"
