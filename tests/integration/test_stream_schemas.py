"""The stream's event schemas: published files are current, and each current model matches the
aggregate's event class, so an aggregate change cannot silently change the stream's contract."""

from __future__ import annotations

import dataclasses
import json

import jsonschema

from aggregates.customer import Customer
from ledger.app import LedgerApplication
from ledger.stream import schemas
from ledger.stream.envelope import build_envelope, is_published, published_data
from ledger.stream.schemas.models import CURRENT
from tests.kit.stream import populate

ENVELOPE_FIELDS = {"originator_id", "originator_version", "originator_topic", "timestamp", "at", "actor"}


def customer_event_classes() -> dict[str, type]:
    return {
        name: cls
        for name, cls in vars(Customer).items()
        if isinstance(cls, type)
        and issubclass(cls, Customer.Event)
        and cls is not Customer.Event
        and name != "Created"  # the library's generic created event; Customer is created by Registered
    }


def test_published_schema_files_are_current() -> None:
    assert schemas.check() == [], "run `ledger event-schemas --write`"


def test_every_customer_event_has_a_current_model_with_the_same_fields() -> None:
    classes = customer_event_classes()
    assert set(classes) == set(CURRENT), "every customer event type (and only those) has a stream model"
    for name, cls in classes.items():
        stored = {f.name for f in dataclasses.fields(cls) if f.name not in ENVELOPE_FIELDS}
        stored = set(published_data(name, dict.fromkeys(stored, 0)))
        modelled = set(CURRENT[name].model_fields)
        assert stored == modelled, (
            f"{name}: the aggregate's fields {sorted(stored)} differ from the stream model's {sorted(modelled)}; "
            "add a new version of the model and an upcaster (see ledger/stream/schemas/models.py)"
        )


def test_schemas_are_valid_json_schema_and_versioned() -> None:
    files = schemas.render()
    for name, text in files.items():
        if name.startswith("customer."):
            schema = json.loads(text)
            jsonschema.Draft202012Validator.check_schema(schema)
            event, version = name.removeprefix("customer.").removesuffix(".schema.json").split(".v")
            assert schema["$id"] == f"urn:select-ledger:schemas:events:customer.{event}.v{version}"
            assert schema["additionalProperties"] is False
    index = json.loads(files["index.json"])
    assert index["events"]["SpareAccrued"] == {
        "current": 2,
        "type": "com.select.ledger.customer.SpareAccrued.v2",
        "versions": [1, 2],
    }


def test_every_envelope_of_a_workload_validates(app: LedgerApplication) -> None:
    populate(app, customers=2)
    envelope_schema = json.loads(files_text("envelope.schema.json"))
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    seen = set()
    for notification in app.recorder.select_notifications(1, 10_000):
        domain_event = app.mapper.to_domain_event(notification)
        if not is_published(domain_event):
            continue
        envelope = json.loads(json.dumps(build_envelope(domain_event, notification.id)))
        jsonschema.validate(envelope, envelope_schema, format_checker=checker)
        name = envelope["dataschema"].rsplit(":", 1)[1] + ".schema.json"
        jsonschema.validate(envelope["data"], json.loads(files_text(name)), format_checker=checker)
        seen.add(envelope["type"])
    assert len(seen) >= 12


def files_text(name: str) -> str:
    return schemas.render()[name]
