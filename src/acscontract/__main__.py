"""`python -m acscontract`: the same as the `acscontract` command."""

from __future__ import annotations

import sys

from acscontract.cli import main

sys.exit(main())
