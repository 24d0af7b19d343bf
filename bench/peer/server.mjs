// oidc-provider (the OpenID Certified Node.js provider) set up like Latchkey for bench/run.py:
// in-memory store, its development login pages, one confidential client, refresh rotation on,
// RS256 ID tokens, the same claims. Usage: node server.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

const [port, clientId, clientSecret, redirectUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: '1', alg: 'RS256', use: 'sig' }] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username', 'updated_at'],
  },
  // Latchkey's accounts: every bench user exists, with the same claims.
  findAccount: (ctx, sub) => ({
    accountId: sub,
    claims: () => ({
      sub, name: `Bench User ${sub}`, preferred_username: sub, email: `${sub}@example.org`,
      email_verified: true, updated_at: 0,
    }),
  }),
  // Latchkey's apps are whitelisted first-party apps with no consent screen: the documented way to
  // skip oidc-provider's consent prompt is a grant made on the fly in loadExistingGrant.
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid profile email offline_access');
    await grant.save();
    return grant;
  },
  // A refresh token for every code grant of a client allowed the grant (Latchkey: offline_access,
  // which oidc-provider drops unless prompt=consent), rotated at every use, as Latchkey does.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: () => true,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true }, revocation: { enabled: true } },
  ttl: { AccessToken: 3600, AuthorizationCode: 60, IdToken: 3600, RefreshToken: 30 * 24 * 3600, Grant: 30 * 24 * 3600, Session: 14 * 24 * 3600, Interaction: 3600 },
});

provider.listen(Number(port), '127.0.0.1', () => console.log(`oidc-provider listening on ${issuer}`));
