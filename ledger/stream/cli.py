"""Command-line verbs of the stream (``ledger relay``, ``ledger notify``)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the stream's subcommands to the ``ledger`` parser."""
