#!/usr/bin/env python3
"""Keep the translations in step with the code (Babel).

    python scripts/i18n.py update   # extract every marked message, merge into each .po
    python scripts/i18n.py check    # what is missing, fuzzy or has other placeholders

After ``update``, translate the new entries (empty ``msgstr``) in
importer/i18n/locale/<lang>/LC_MESSAGES/*.po and run ``check``; the test suite runs the
same check.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from importer.i18n.tooling import check, update


def main() -> int:
    """Run the sub-command."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["update", "check"])
    args = parser.parse_args()
    if args.command == "update":
        for path in update():
            print(f"wrote {path}")
        return 0
    problems = check()
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
