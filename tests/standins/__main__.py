"""Run every stand-in until SIGTERM or SIGINT; print one JSON line with their URLs and env first.

    python -m tests.standins [--directory DIR]

A benchmark or a live gunicorn + dispatcher reads the "env" object into its environment.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from tests.standins import StandIns


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.standins", description=__doc__)
    parser.add_argument("--directory", type=Path, help="where to write key files (default: a temporary folder)")
    args = parser.parse_args()
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    with StandIns(args.directory) as standins:
        print(json.dumps({"pid": os.getpid(), "urls": standins.urls(), "env": standins.env()}), flush=True)
        while not stopping.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
