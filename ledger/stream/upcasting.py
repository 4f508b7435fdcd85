"""Upcasting: messages published under an older version of their type are read as the current one.

Messages on the topic are never rewritten. A subscriber reads the version in the envelope's ``type``
(``...SpareAccrued.v1``) and applies the upcasters one version at a time until it reaches the
current model's version. An upcaster is a pure function of the older data; it must not need
anything but that data (and facts that were true when the older version was published).

Versions so far:

- ``SpareAccrued`` and ``SpareRevoked``: v1 carried ``spare_no`` and ``active_select_licenses``;
  v2 adds ``entitled`` (floor(active select licenses / 50), R13), so consumers need not know the divisor.
  v1 → v2 computes it with the divisor in force while v1 was published (50).
- ``OrderPlaced``: v2 allows ``service: "jumpstart"`` with ``years: null`` (R27); a v1 message is a
  valid v2 message as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ledger.stream.schemas.models import CURRENT

Data = dict[str, Any]
Upcaster = Callable[[Data], Data]

V1_SELECT_LICENSES_PER_SPARE = 50


class UpcastError(ValueError):
    """An event version this code cannot turn into the current one."""


def _spares_v1_to_v2(data: Data) -> Data:
    return {**data, "entitled": int(data["active_select_licenses"]) // V1_SELECT_LICENSES_PER_SPARE}


def _unchanged(data: Data) -> Data:
    return data


UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("OrderPlaced", 1): _unchanged,
    ("SpareAccrued", 1): _spares_v1_to_v2,
    ("SpareRevoked", 1): _spares_v1_to_v2,
}


def upcast(event: str, version: int, data: Data) -> tuple[int, Data]:
    """Return (current version, data in the current version's shape)."""
    model = CURRENT.get(event)
    if model is None:
        raise UpcastError(f"type: {event} is not a customer event this subscriber knows; upgrade it")
    if version > model.version:
        raise UpcastError(
            f"type: {event}.v{version} is newer than this subscriber knows (v{model.version}); upgrade it"
        )
    while version < model.version:
        step = UPCASTERS.get((event, version))
        if step is None:
            raise UpcastError(f"type: no upcaster from {event}.v{version} to v{version + 1}")
        try:
            data = step(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise UpcastError(f"data of {event}.v{version} cannot be upcast: {exc!r}") from None
        version += 1
    return version, data
