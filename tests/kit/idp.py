"""A real OpenID Connect provider for the tests: ``idp/server.mjs`` (npm ``oidc-provider``) on loopback.

``start_idp()`` starts one Node process serving four issuers on free loopback ports — ``operator``
(the operator's issuer, ``LEDGER_OIDC_ISSUERS``), ``acme`` and ``globex`` (two customers' own SSO
issuers, R22), ``shortlived`` (ID tokens valid ``SHORT_TTL`` seconds) — each with a confidential
client for the portal (``client_id``), a second client (``other_client_id``: tokens for another
audience) and its own accounts file. Tokens are
obtained the way the portal obtains them: the authorization-code flow with PKCE (S256), the provider's
sign-in interaction driven by an httpx client (no browser), the code redeemed at the token endpoint
with the client secret. Nothing here signs a token.

From a shell (the developer demo, ``make idp``): ``python -m tests.kit.idp --issuer http://127.0.0.1:4001
--client-id ledger-portal --client-secret demo-only-portal-secret ops@select.example`` signs in the same
way and prints the ID token.

A missing ``node`` or ``idp/node_modules`` (``make idp-install``, i.e. ``npm ci`` in ``idp/``) fails the
test, it never skips it.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
IDP_DIR = ROOT / "idp"
DEFAULT_PORTAL_URL = "http://127.0.0.1:8000"
ISSUER_NAMES = ("operator", "acme", "globex", "shortlived")
#: Seconds the ``shortlived`` issuer's ID tokens are valid (the expiry tests through HTTP).
SHORT_TTL = 2
PASSWORD = "correct horse battery staple"


class IdpUnavailable(RuntimeError):
    """The provider cannot be started: node or its packages are missing (``permanent``), or it did not answer."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pkce_pair() -> tuple[str, str]:
    """A PKCE code verifier and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


@dataclass
class Issuer:
    """One issuer of the running provider, with its portal client and accounts."""

    name: str
    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    accounts_file: Path
    other_client_id: str = ""
    other_client_secret: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def discovery_url(self) -> str:
        return self.issuer + "/.well-known/openid-configuration"

    def add_user(self, email: str, *, verified: bool = True, password: str = PASSWORD) -> None:
        """Add (or replace) an account; the provider reads the file again on every sign-in."""
        with self._lock:
            accounts = [a for a in json.loads(self.accounts_file.read_text()) if a["email"].lower() != email.lower()]
            accounts.append({"email": email, "email_verified": verified, "password": password})
            tmp = self.accounts_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(accounts))
            tmp.replace(self.accounts_file)

    def _secret(self, client_id: str) -> str:
        return self.other_client_secret if client_id == self.other_client_id else self.client_secret

    def authorization_code(
        self, email: str, *, password: str = PASSWORD, pkce: bool = True, client_id: str | None = None
    ) -> tuple[str, str | None, str]:
        """Sign ``email`` in through the provider's interaction; the code, PKCE verifier and nonce."""
        with httpx.Client(timeout=30.0, follow_redirects=False) as browser:
            discovery = browser.get(self.discovery_url).raise_for_status().json()
            verifier, challenge = pkce_pair()
            state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
            params = {
                "client_id": client_id or self.client_id,
                "redirect_uri": self.redirect_uri,
                "response_type": "code",
                "scope": "openid email",
                "state": state,
                "nonce": nonce,
            }
            if pkce:
                params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
            response = browser.get(discovery["authorization_endpoint"], params=params)
            location = self._follow_to_redirect_uri(browser, response, email, password)
            query = parse_qs(urlsplit(location).query)
            if "error" in query:
                raise IdpRefused(query["error"][0], query.get("error_description", [""])[0])
            if query.get("state") != [state] or query.get("iss") != [self.issuer]:
                raise AssertionError(f"authorization response with a wrong state or issuer: {location}")
            return query["code"][0], verifier if pkce else None, nonce

    def _follow_to_redirect_uri(
        self, browser: httpx.Client, response: httpx.Response, email: str, password: str
    ) -> str:
        for _ in range(10):
            if response.status_code not in (302, 303):
                raise IdpRefused("unexpected_response", f"{response.status_code}: {response.text[:200]}")
            location = str(httpx.URL(self.issuer).join(response.headers["location"]))
            if location.startswith(self.redirect_uri):
                return location
            path = urlsplit(location).path
            if path.startswith("/interaction/"):
                page = browser.get(location)
                if page.status_code == 200 and "<form" in page.text:
                    response = browser.post(location + "/login", data={"email": email, "password": password})
                    if response.status_code == 401:
                        raise IdpRefused("login_failed", f"the provider refused the sign-in of {email}")
                    continue
                response = page
                continue
            response = browser.get(location)
        raise IdpRefused("redirect_loop", "too many redirects")

    def redeem(self, code: str, verifier: str | None, client_id: str | None = None) -> dict[str, object]:
        """Exchange an authorization code at the token endpoint (client_secret_basic)."""
        with httpx.Client(timeout=30.0) as client:
            discovery = client.get(self.discovery_url).raise_for_status().json()
            data = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri}
            if verifier is not None:
                data["code_verifier"] = verifier
            client_id = client_id or self.client_id
            response = client.post(discovery["token_endpoint"], data=data, auth=(client_id, self._secret(client_id)))
            body: dict[str, object] = response.json()
            if response.status_code != 200:
                raise IdpRefused(str(body.get("error")), str(body.get("error_description")))
            return body

    def login(self, email: str, *, password: str = PASSWORD, client_id: str | None = None) -> str:
        """An ID token for ``email`` from the real authorization-code flow with PKCE."""
        code, verifier, _nonce = self.authorization_code(email, password=password, client_id=client_id)
        token = self.redeem(code, verifier, client_id)["id_token"]
        assert isinstance(token, str)
        return token


class IdpRefused(Exception):
    """The provider answered an OAuth error (``error``, ``description``)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


@dataclass
class Idp:
    """The running provider: its issuers by name, and the Node process."""

    issuers: dict[str, Issuer]
    process: subprocess.Popen[str]
    log: Path

    @property
    def operator(self) -> Issuer:
        return self.issuers["operator"]

    def __getitem__(self, name: str) -> Issuer:
        return self.issuers[name]

    def login(self, email: str, issuer: str = "operator", *, client_id: str | None = None) -> str:
        """An ID token for ``email`` (an account is added, verified, if it does not exist)."""
        iss = self.issuers[issuer]
        with iss._lock:
            known = any(a["email"].lower() == email.lower() for a in json.loads(iss.accounts_file.read_text()))
        if not known:
            iss.add_user(email)
        return iss.login(email, client_id=client_id)

    def operator_settings(self, *names: str) -> str:
        """``LEDGER_OIDC_ISSUERS`` trusting the named issuers (default: the operator's) for their portal client."""
        return json.dumps([{"issuer": self[n].issuer, "audience": self[n].client_id} for n in names or ("operator",)])

    def rotate_keys(self, timeout: float = 60.0) -> None:
        """Make every issuer sign with a new key (the old one stays published); wait until it is."""
        before = {name: self._kids(i) for name, i in self.issuers.items()}
        self.process.send_signal(signal.SIGUSR2)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(len(self._kids(i) - before[name]) == 1 for name, i in self.issuers.items()):
                return
            time.sleep(0.05)
        raise IdpUnavailable("the provider did not publish new keys after SIGUSR2")

    @staticmethod
    def _kids(issuer: Issuer) -> set[str]:
        jwks = httpx.get(issuer.issuer + "/jwks", timeout=20.0).raise_for_status().json()
        return {k["kid"] for k in jwks["keys"]}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


#: Attempts at starting the provider before the kit gives up (each on fresh ports, each with its own timeout).
START_ATTEMPTS = 2


def start_idp(workdir: Path, *, portal_url: str = DEFAULT_PORTAL_URL, timeout: float = 120.0) -> Idp:
    """Start the provider with its issuers on free ports; return once every discovery document answers.

    A start that does not answer within ``timeout`` (a loaded machine, a port taken between choosing and
    binding it) is stopped and tried again on fresh ports, once; the error after the last attempt carries
    the provider's log (one line of start-up costs per issuer) and the machine's load.
    """
    failures: list[str] = []
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            return _start_once(workdir / f"attempt-{attempt}", portal_url=portal_url, timeout=timeout)
        except IdpUnavailable as exc:
            if exc.permanent:
                raise
            failures.append(f"attempt {attempt}: {exc}")
    raise IdpUnavailable("\n".join(failures))


def _start_once(workdir: Path, *, portal_url: str, timeout: float) -> Idp:
    node = shutil.which("node")
    if node is None:
        raise IdpUnavailable(
            "node is not installed (the tests need Node.js 20+ for the OpenID provider)", permanent=True
        )
    if not (IDP_DIR / "node_modules" / "oidc-provider").is_dir():
        raise IdpUnavailable(
            f"{IDP_DIR}/node_modules is missing: run `make idp-install` (npm ci in idp/)", permanent=True
        )
    workdir.mkdir(parents=True, exist_ok=True)
    redirect_uri = portal_url.rstrip("/") + "/auth/callback"
    issuers: dict[str, Issuer] = {}
    specs = []
    for name in ISSUER_NAMES:
        port = free_port()
        accounts = workdir / f"{name}-accounts.json"
        accounts.write_text("[]")
        client = Issuer(
            name=name,
            issuer=f"http://127.0.0.1:{port}",
            client_id=f"{name}-portal",
            client_secret=secrets.token_urlsafe(24),
            redirect_uri=redirect_uri,
            accounts_file=accounts,
            other_client_id=f"{name}-other",
            other_client_secret=secrets.token_urlsafe(24),
        )
        issuers[name] = client
        specs.append(
            {
                "name": name,
                "port": port,
                "clients": [
                    {"client_id": cid, "client_secret": secret, "redirect_uris": [redirect_uri]}
                    for cid, secret in (
                        (client.client_id, client.client_secret),
                        (client.other_client_id, client.other_client_secret),
                    )
                ],
                "accounts_file": str(accounts),
                "id_token_ttl": SHORT_TTL if name == "shortlived" else 3600,
            }
        )
    config = workdir / "idp.json"
    config.write_text(json.dumps({"host": "127.0.0.1", "issuers": specs}))
    log = workdir / "idp.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [node, str(IDP_DIR / "server.mjs"), str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "NODE_ENV": "test"},
        )
    idp = Idp(issuers=issuers, process=process, log=log)
    began = time.monotonic()
    pending = set(issuers)
    while pending:
        if process.poll() is not None:
            raise IdpUnavailable(f"the OpenID provider exited ({process.returncode}):\n{_log_tail(log)}")
        if time.monotonic() - began > timeout:
            idp.stop()
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            raise IdpUnavailable(
                f"the OpenID provider did not answer within {timeout} s (load average {load};"
                f" still waiting for {sorted(pending)}):\n{_log_tail(log)}"
            )
        if '"ready":true' in log.read_text():
            for name in list(pending):
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(issuers[name].discovery_url, timeout=5.0).status_code == 200:
                        pending.discard(name)
        time.sleep(0.1)
    return idp


def _log_tail(log: Path) -> str:
    lines = [line for line in log.read_text().splitlines() if "oidc-provider WARNING" not in line]
    return "\n".join(lines)[-3000:]


@pytest.fixture(scope="session")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Idp]:
    """The real OpenID provider for this test session (fails, never skips, when it cannot start)."""
    try:
        provider = start_idp(tmp_path_factory.mktemp("idp"))
    except IdpUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield provider
    finally:
        provider.stop()


def main(argv: list[str] | None = None) -> int:
    """Sign in through a running provider by script and print the ID token."""
    parser = argparse.ArgumentParser(prog="python -m tests.kit.idp", description=main.__doc__)
    parser.add_argument("--issuer", required=True, help="e.g. http://127.0.0.1:4001")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--redirect-uri", default=DEFAULT_PORTAL_URL + "/auth/callback")
    parser.add_argument("--password", default=os.environ.get("IDP_PASSWORD", "demo"))
    parser.add_argument("email")
    args = parser.parse_args(argv)
    issuer = Issuer(
        name="cli",
        issuer=args.issuer.rstrip("/"),
        client_id=args.client_id,
        client_secret=args.client_secret,
        redirect_uri=args.redirect_uri,
        accounts_file=Path(os.devnull),
    )
    try:
        print(issuer.login(args.email, password=args.password))
    except (IdpRefused, httpx.HTTPError) as exc:
        print(f"sign-in failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
