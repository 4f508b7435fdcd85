"""Upcasting (SPEC section 5): old event versions are read as the current one, never rewritten."""

from __future__ import annotations

import pytest

from ledger.stream.envelope import EnvelopeError, read_event
from ledger.stream.schemas.models import CURRENT, MODELS, SpareAccrued, SpareAccruedV1, SpareRevoked
from ledger.stream.upcasting import UPCASTERS, UpcastError, upcast

CUSTOMER = "7ca1becb-1aa1-59ef-8d34-277cfcfd5ea2"


def v1_envelope(event: str, data: dict[str, object]) -> dict[str, object]:
    return {
        "specversion": "1.0",
        "id": "d1b5f0a4-54f4-5d43-a6f2-3d0c5f7a2b11",
        "source": "urn:select-ledger",
        "type": f"com.select.ledger.customer.{event}.v1",
        "subject": CUSTOMER,
        "time": "2026-11-04T09:00:00Z",
        "datacontenttype": "application/json",
        "dataschema": f"urn:select-ledger:schemas:events:customer.{event}.v1",
        "ledgerposition": 9,
        "aggregateversion": 7,
        "recordedtime": "2026-11-04T09:00:01.5Z",
        "actor": "ops",
        "data": data,
    }


def test_spare_accrued_v1_upcasts_to_v2_with_entitled() -> None:
    version, data = upcast("SpareAccrued", 1, {"spare_no": 2, "active_select_licenses": 100})
    assert version == 2 == SpareAccrued.version
    assert data == {"spare_no": 2, "active_select_licenses": 100, "entitled": 2}
    assert SpareAccruedV1.model_validate({"spare_no": 2, "active_select_licenses": 100})


def test_spare_revoked_v1_upcasts_too() -> None:
    assert upcast("SpareRevoked", 1, {"spare_no": 1, "active_select_licenses": 49}) == (
        2,
        {"spare_no": 1, "active_select_licenses": 49, "entitled": 0},
    )
    assert SpareRevoked.version == 2


def test_current_versions_pass_unchanged() -> None:
    data = {"spare_no": 1, "active_select_licenses": 50, "entitled": 1}
    assert upcast("SpareAccrued", 2, data) == (2, data)
    assert upcast("OrderCancelled", 1, {"po_number": "PO-1"}) == (1, {"po_number": "PO-1"})


def test_read_event_upcasts_a_v1_message() -> None:
    event = read_event(v1_envelope("SpareAccrued", {"spare_no": 1, "active_select_licenses": 80}))
    assert isinstance(event.data, SpareAccrued)
    assert event.data.entitled == 1
    assert (event.published_version, event.version, event.upcast) == (1, 2, True)
    assert event.aggregate_version == 7 and event.position == 9


def test_newer_or_unknown_versions_are_refused_with_a_reason() -> None:
    with pytest.raises(UpcastError, match="newer than this subscriber knows"):
        upcast("OrderPlaced", 3, {})
    with pytest.raises(UpcastError, match="not a customer event this subscriber knows"):
        upcast("Teleported", 1, {})
    with pytest.raises(UpcastError, match="cannot be upcast"):
        upcast("SpareAccrued", 1, {"spare_no": 1})
    with pytest.raises(EnvelopeError, match="newer"):
        read_event(
            {
                **v1_envelope("OrderCancelled", {"po_number": "X"}),
                "type": "com.select.ledger.customer.OrderCancelled.v3",
            }
        )


def test_every_older_version_has_a_path_to_the_current_one() -> None:
    for (event, version), _model in MODELS.items():
        current = CURRENT[event].version
        for step in range(version, current):
            assert (event, step) in UPCASTERS, f"{event}.v{step} has no upcaster"


def test_r27_order_placed_v1_reads_as_v2_unchanged() -> None:
    data = {"po_number": "PO-1", "service": "select", "years": 3}
    assert upcast("OrderPlaced", 1, data) == (2, data)
