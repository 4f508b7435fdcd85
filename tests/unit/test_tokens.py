"""Invitation tokens (R15): keyed MACs over (customer, invitation), never stored."""

from __future__ import annotations

import base64
from uuid import UUID, uuid4

import pytest

from aggregates.errors import Forbidden
from commands.tokens import issue_token, read_token

KEY = b"test-secret-key"
CUSTOMER = UUID("11111111-1111-1111-1111-111111111111")
INVITATION = UUID("22222222-2222-2222-2222-222222222222")


def _assert_invalid(key: bytes, token: str) -> None:
    with pytest.raises(Forbidden) as info:
        read_token(key, token)
    assert (info.value.rule, info.value.field) == ("R15", "token")


def test_r15_token_round_trip() -> None:
    token = issue_token(KEY, CUSTOMER, INVITATION)
    assert token.startswith("inv_")
    assert read_token(KEY, token) == (CUSTOMER, INVITATION)


def test_r15_token_is_deterministic_per_invitation() -> None:
    assert issue_token(KEY, CUSTOMER, INVITATION) == issue_token(KEY, CUSTOMER, INVITATION)
    other = uuid4()
    assert issue_token(KEY, CUSTOMER, other) != issue_token(KEY, CUSTOMER, INVITATION)
    assert read_token(KEY, issue_token(KEY, CUSTOMER, other)) == (CUSTOMER, other)


def test_r15_token_is_url_safe() -> None:
    token = issue_token(KEY, CUSTOMER, INVITATION)
    assert "=" not in token and "+" not in token and "/" not in token


def test_r15_token_from_another_key_refused() -> None:
    _assert_invalid(KEY, issue_token(b"another-key", CUSTOMER, INVITATION))


def test_r15_token_with_swapped_invitation_refused() -> None:
    # Re-pointing a genuine MAC at another invitation of the same customer must fail.
    token = issue_token(KEY, CUSTOMER, INVITATION)
    body = token[len("inv_") :]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    forged = CUSTOMER.bytes + uuid4().bytes + raw[32:]
    _assert_invalid(KEY, "inv_" + base64.urlsafe_b64encode(forged).decode().rstrip("="))


@pytest.mark.parametrize("index", [4, 10, 30, -2])
def test_r15_token_with_a_changed_character_refused(index: int) -> None:
    token = issue_token(KEY, CUSTOMER, INVITATION)
    position = index % len(token)
    replacement = "A" if token[position] != "A" else "B"
    tampered = token[:position] + replacement + token[position + 1 :]
    assert tampered != token
    _assert_invalid(KEY, tampered)


@pytest.mark.parametrize(
    "token",
    ["", "inv_", "tok_abc", "inv_not base64!!", "inv_" + "A" * 10, "inv_" + "A" * 200],
)
def test_r15_malformed_token_refused(token: str) -> None:
    _assert_invalid(KEY, token)


def test_r15_truncated_token_refused() -> None:
    token = issue_token(KEY, CUSTOMER, INVITATION)
    _assert_invalid(KEY, token[:-4])
