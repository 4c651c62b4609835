# Sourced by scripts/run.sh and .ci/run: the console's front-end packages (package.json, package-lock.json),
# installed into node_modules by npm from the registry, as locked. Served from there by app/console/vendor.py.
# npm writes node_modules/.package-lock.json last, so one newer than the lock means the install is current.
frontend_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ ! "$frontend_root/node_modules/.package-lock.json" -nt "$frontend_root/package-lock.json" ]; then
  if ! command -v npm >/dev/null; then
    echo "npm is missing (Debian: apt-get install npm); the console's charts need it" >&2
    exit 1
  fi
  # --ignore-scripts: the packages are files to serve; nothing of theirs runs here.
  (cd "$frontend_root" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
