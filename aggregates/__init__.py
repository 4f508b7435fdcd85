"""The pure domain: aggregates, events, rules and catalogs. Imports nothing of ours outside itself."""

from aggregates.catalog import CountryTable
from aggregates.customer import Customer
from aggregates.errors import Conflict, Forbidden, InvalidInput, LedgerError, NotFound, RuleViolation
from aggregates.partner import Partner
from aggregates.reservations import PurchaseOrder, SerialNumber

__all__ = [
    "Conflict",
    "CountryTable",
    "Customer",
    "Forbidden",
    "InvalidInput",
    "LedgerError",
    "NotFound",
    "Partner",
    "PurchaseOrder",
    "RuleViolation",
    "SerialNumber",
]
