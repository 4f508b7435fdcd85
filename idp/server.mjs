// A real OpenID Connect provider (the npm package `oidc-provider`) serving several issuers on loopback,
// for the ledger's tests, CI and the developer demo.
//
//   node idp/server.mjs CONFIG.json
//
// CONFIG.json:
//   {
//     "host": "127.0.0.1",                        // default 127.0.0.1
//     "issuers": [
//       {
//         "name": "operator",                     // a label, printed in the ready line
//         "port": 4001,                           // each issuer listens on its own port; issuer = http://host:port
//         "clients": [                            // confidential clients (client_secret_basic or _post)
//           {"client_id": "ledger-portal", "client_secret": "…",
//            "redirect_uris": ["http://127.0.0.1:8000/auth/callback"]}
//         ],
//         "id_token_ttl": 3600,                   // seconds an ID token is valid (default 3600)
//         "accounts": [                           // or "accounts_file": a JSON list of the same objects
//           {"email": "ops@select.example", "email_verified": true, "password": "…", "sub"?: "…"}
//         ]
//       }
//     ]
//   }
//
// Accounts are read again on every sign-in, so a test may add users to the accounts file while the
// provider runs. Authorization code flow only, PKCE (S256) required for every client; the ID token
// carries `email` and `email_verified`. Sign-in is the provider's interaction: GET /interaction/<uid>
// shows a form, POST /interaction/<uid>/login with `email` and `password` (form-encoded) signs in and
// grants the requested scopes — a scripted client (no browser) drives the same two requests.
//
// SIGUSR2 rotates the signing keys of every issuer: a new RSA key signs from then on and the old
// public key stays published in the JWKS beside it. Once all issuers listen, one JSON line is
// printed to stdout: {"ready": true, "issuers": [{"name", "issuer"}, …]}.

import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import process from 'node:process';

import Provider from 'oidc-provider';

const configPath = process.argv[2] ?? process.env.IDP_CONFIG;
if (!configPath) {
  console.error('usage: node idp/server.mjs CONFIG.json (or IDP_CONFIG=CONFIG.json)');
  process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, 'utf8'));
const host = config.host ?? '127.0.0.1';

function newSigningKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

function accountsOf(spec) {
  if (spec.accounts_file) {
    return JSON.parse(readFileSync(spec.accounts_file, 'utf8'));
  }
  return spec.accounts ?? [];
}

function findByEmail(spec, email) {
  const wanted = String(email ?? '').trim().toLowerCase();
  return accountsOf(spec).find((a) => a.email.toLowerCase() === wanted);
}

function accountId(account) {
  return account.sub ?? account.email.toLowerCase();
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginPage(uid, clientId, message) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head><body>
<h1>Sign in</h1><p>to ${escapeHtml(clientId)}</p>${message ? `<p role="alert">${escapeHtml(message)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<label>E-mail <input type="email" name="email" autocomplete="username" required autofocus></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form></body></html>`;
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
      if (body.length > 16384) {
        reject(new Error('form too large'));
        req.destroy();
      }
    });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

function makeProvider(spec, issuer, keys, cookieKeys) {
  const provider = new Provider(issuer, {
    clients: (spec.clients ?? []).map((c) => ({
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      ...c,
    })),
    jwks: { keys },
    cookies: { keys: cookieKeys },
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    scopes: ['openid'],
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    pkce: { required: () => true },
    ttl: { IdToken: spec.id_token_ttl ?? 3600 },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, id) {
      const account = accountsOf(spec).find((a) => accountId(a) === id);
      if (!account) {
        return undefined;
      }
      return {
        accountId: id,
        async claims() {
          return { sub: id, email: account.email, email_verified: account.email_verified === true };
        },
      };
    },
  });
  provider.on('server_error', (ctx, err) => console.error(`[${spec.name}] server_error`, err));
  return provider;
}

async function grantAll(provider, details) {
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope ?? 'openid');
  return grant.save();
}

async function handleInteraction(state, req, res, url) {
  const provider = state.provider;
  const parts = url.pathname.split('/').filter(Boolean); // ['interaction', uid, ('login')?]
  const details = await provider.interactionDetails(req, res);
  if (parts[1] !== details.uid) {
    res.writeHead(400, { 'content-type': 'text/plain' }).end('interaction mismatch');
    return;
  }
  if (details.prompt.name === 'consent') {
    const grantId = await grantAll(provider, details);
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  if (req.method === 'GET' && parts.length === 2) {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(loginPage(details.uid, details.params.client_id));
    return;
  }
  if (req.method === 'POST' && parts[2] === 'login') {
    const form = await readForm(req);
    const account = findByEmail(state.spec, form.get('email'));
    if (!account || account.password === undefined || account.password !== form.get('password')) {
      res.writeHead(401, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(loginPage(details.uid, details.params.client_id, 'Unknown e-mail or wrong password.'));
      return;
    }
    const id = accountId(account);
    const grant = new provider.Grant({ accountId: id, clientId: details.params.client_id });
    grant.addOIDCScope(details.params.scope ?? 'openid');
    const grantId = await grant.save();
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: id }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
    return;
  }
  res.writeHead(405, { 'content-type': 'text/plain' }).end('method not allowed');
}

const states = [];
const cookieKeys = [randomBytes(32).toString('base64url')];

for (const spec of config.issuers) {
  const issuer = spec.issuer ?? `http://${host}:${spec.port}`;
  const began = performance.now();
  const state = { spec, issuer, keys: [newSigningKey()] };
  const keyed = performance.now();
  state.provider = makeProvider(spec, issuer, state.keys, cookieKeys);
  // One line per issuer with its start-up costs: a slow start shows where the time went.
  console.log(JSON.stringify({
    starting: spec.name,
    key_ms: Math.round(keyed - began),
    provider_ms: Math.round(performance.now() - keyed),
  }));
  state.handler = state.provider.callback();
  state.server = http.createServer((req, res) => {
    const url = new URL(req.url, issuer);
    if (url.pathname.startsWith('/interaction/')) {
      handleInteraction(state, req, res, url).catch((err) => {
        if (!res.headersSent) {
          res.writeHead(400, { 'content-type': 'text/plain' });
        }
        res.end(`interaction failed: ${err.name ?? 'Error'}`);
      });
      return;
    }
    state.handler(req, res);
  });
  states.push(state);
}

process.on('SIGUSR2', () => {
  for (const state of states) {
    state.keys = [newSigningKey(), ...state.keys.slice(0, 1)];
    state.provider = makeProvider(state.spec, state.issuer, state.keys, cookieKeys);
    state.handler = state.provider.callback();
  }
  console.log(JSON.stringify({ rotated: states.map((s) => ({ name: s.spec.name, kid: s.keys[0].kid })) }));
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    for (const state of states) {
      state.server.close();
    }
    process.exit(0);
  });
}

await Promise.all(
  states.map(
    (state) =>
      new Promise((resolve, reject) => {
        state.server.once('error', reject);
        state.server.listen(state.spec.port, host, resolve);
      }),
  ),
);
console.log(JSON.stringify({ ready: true, issuers: states.map((s) => ({ name: s.spec.name, issuer: s.issuer })) }));
