"""A harness process for crash tests: brings a local stack up, prints its run dir, then obeys argv[2].

python stack_child.py RUN_DIR raise|sleep
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from harness.stack.local import LocalSettings, LocalStack


def main() -> None:
    run_dir, mode = Path(sys.argv[1]), sys.argv[2]
    with LocalStack(LocalSettings(run_dir=run_dir, with_proxy=True)):
        print("READY", flush=True)
        if mode == "raise":
            raise RuntimeError("a failing test")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # until SIGINT / SIGKILL
            time.sleep(0.1)


if __name__ == "__main__":
    main()
