// SPDX-License-Identifier: Apache-2.0
// tests/interop/nats_jwt/interop.js - @nats-io/jwt 0.0.11 and @nats-io/nkeys
// 2.0.3 (the NATS ecosystem's reference libraries) against Veil:
//   1. Veil writes an operator/account/user chain, a .creds file and an nkey
//      signature; @nats-io decodes and verifies every piece (signatures
//      against `iss`, the seed against the JWT subject, claim fields);
//   2. @nats-io writes the same kinds of objects (user issued by an account
//      signing key, account with a revocation); Veil decodes and verifies
//      them and reports the fields it read, compared here.
// Usage: node interop.js NODE_MODULES TOOL WORKDIR
'use strict';
const [, , modules, tool, dir] = process.argv;
const path = require('path');
const fs = require('fs');
const { execFileSync } = require('child_process');
const jwt = require(path.join(modules, '@nats-io/jwt'));
const nkeys = require(path.join(modules, '@nats-io/nkeys'));
const te = new TextEncoder();
const td = new TextDecoder();

function assert(cond, msg) {
  if (!cond) { console.error('FAIL: ' + msg); process.exit(1); }
}
const read = (f) => fs.readFileSync(path.join(dir, f), 'utf8').trim();

async function veilToJs() {
  execFileSync(tool, ['gen', dir], { stdio: 'inherit' });
  const op = jwt.decode(read('operator.jwt'));
  const acct = jwt.decode(read('account.jwt'));
  const user = jwt.decode(read('user.jwt'));
  assert(op.nats.type === 'operator' && op.nats.version === 2, 'operator type/version');
  assert(op.iss === op.sub && op.sub.startsWith('O'), 'operator self-signed');
  assert(op.nats.system_account === acct.sub, 'operator system_account');
  assert(acct.iss === op.sub && acct.nats.type === 'account', 'account issued by operator');
  assert(acct.nats.signing_keys.includes(user.iss), 'user issued by an account signing key');
  assert(acct.nats.limits.conn === -1 && acct.nats.limits.subs === -1, 'account limits explicit');
  assert(acct.nats.revocations['UAB2CB576PHBBPQ5ODORRZ2LYCMWPZGWGCN2KDK7DXOIMZASKUY3RLKK'] === 1700000000,
         'account revocation');
  assert(user.nats.issuer_account === acct.sub, 'user issuer_account');
  assert(user.nats.type === 'user' && user.exp === 4102444800, 'user type/exp');
  assert(user.nats.pub.allow.includes('veil.alpha.live.n1'), 'user pub allow');
  assert(user.nats.sub.allow.includes('veil.alpha.cmd.n1'), 'user sub allow');
  assert(user.nats.tags.includes('taint:gpu'), 'user tags');
  assert(user.nats.subs === -1 && user.nats.payload === -1, 'user limits explicit');
  assert(/^[A-Z2-7]{52}$/.test(user.jti), 'jti is base32 SHA-512/256 (Go nats-io/jwt form)');
  let tampered = read('user.jwt').split('.');
  tampered[1] = tampered[1].slice(0, 10) + (tampered[1][10] === 'A' ? 'B' : 'A') + tampered[1].slice(11);
  let threw = false;
  try { jwt.decode(tampered.join('.')); } catch (e) { threw = true; }
  assert(threw, 'a tampered Veil JWT must not verify');
  const creds = await jwt.parseCreds(fs.readFileSync(path.join(dir, 'user.creds')));
  assert(creds.jwt === read('user.jwt'), 'creds JWT');
  const kp = nkeys.fromSeed(te.encode(creds.key));
  assert(kp.getPublicKey() === user.sub, 'creds seed matches the user subject');
  assert(creds.aid === acct.sub, 'creds account id');
  const [pub, hex] = read('sig.txt').split(' ');
  assert(nkeys.fromPublic(pub).verify(te.encode('veil-interop'), Buffer.from(hex, 'hex')),
         'Veil nkey signature verifies in @nats-io/nkeys');
  console.log('ok   @nats-io/jwt + nkeys decode and verify what Veil writes');
}

async function jsToVeil() {
  const okp = nkeys.createOperator();
  const akp = nkeys.createAccount();
  const skp = nkeys.createAccount();
  const ukp = nkeys.createUser();
  const opJwt = await jwt.encodeOperator('js-op', okp, { system_account: akp.getPublicKey() });
  const acctJwt = await jwt.encodeAccount('js-acct', akp, {
    signing_keys: [skp.getPublicKey()],
    revocations: { UAB2CB576PHBBPQ5ODORRZ2LYCMWPZGWGCN2KDK7DXOIMZASKUY3RLKK: 1700000000 },
  }, { signer: okp });
  const userJwt = await jwt.encodeUser('js-user', ukp, akp, {
    pub: { allow: ['veil.alpha.live.js'] },
    sub: { allow: ['veil.alpha.cmd.js'], deny: ['veil.alpha.cmd.other'] },
  }, { signer: skp, exp: 4102444800 });
  fs.writeFileSync(path.join(dir, 'js-operator.jwt'), opJwt);
  fs.writeFileSync(path.join(dir, 'js-account.jwt'), acctJwt);
  fs.writeFileSync(path.join(dir, 'js-user.jwt'), userJwt);
  fs.writeFileSync(path.join(dir, 'js-user.creds'), jwt.fmtCreds(userJwt, ukp), { mode: 0o600 });
  const sig = Buffer.from(ukp.sign(te.encode('veil-interop'))).toString('hex');
  fs.writeFileSync(path.join(dir, 'js-sig.txt'), `${ukp.getPublicKey()} ${sig}\n`);
  const out = execFileSync(tool, ['verify', dir], { encoding: 'utf8' });
  const got = Object.fromEntries(out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')),
                                                                       l.slice(l.indexOf('=') + 1)]));
  assert(got['operator.sub'] === okp.getPublicKey(), 'Veil read the operator');
  assert(got['account.sub'] === akp.getPublicKey() && got['account.iss'] === okp.getPublicKey(), 'account');
  assert(got['user.sub'] === ukp.getPublicKey() && got['user.iss'] === skp.getPublicKey(), 'user');
  assert(got['user.issuer_account'] === akp.getPublicKey(), 'issuer_account');
  assert(got['user.name'] === 'js-user' && got['user.exp'] === '4102444800', 'user name/exp');
  assert(got['creds.sub'] === ukp.getPublicKey(), 'creds seed');
  assert(got['user.pub_allow'] === 'veil.alpha.live.js', 'pub allow');
  assert(got['user.sub_allow'] === 'veil.alpha.cmd.js' && got['user.sub_deny'] === 'veil.alpha.cmd.other',
         'sub allow/deny');
  assert(got['account.signing_keys'] === skp.getPublicKey(), 'signing keys');
  assert(got['account.revoked'] === '1' && got['user.revoked_at_iat'] === '0', 'revocations');
  // a JWT signed by the wrong key must be refused by Veil
  const forged = userJwt.split('.');
  const other = await jwt.encodeUser('js-user', ukp, akp, {}, { signer: nkeys.createAccount() });
  forged[2] = other.split('.')[2];
  fs.writeFileSync(path.join(dir, 'js-user.jwt'), forged.join('.'));
  let refused = false;
  try { execFileSync(tool, ['verify', dir], { stdio: 'pipe' }); } catch (e) { refused = true; }
  assert(refused, 'Veil accepted a JWT with a foreign signature');
  console.log('ok   Veil decodes and verifies what @nats-io/jwt + nkeys write (forgery refused)');
}

(async () => {
  await veilToJs();
  await jsToVeil();
})().catch((e) => { console.error('FAIL:', e); process.exit(1); });
