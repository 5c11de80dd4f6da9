import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { hashToken, isTokenShaped, newToken } from '../../src/auth/tokens.js';

/** Link tokens (invitations, password resets): random, stored only as a hash, looked up only when shaped right. */
describe('link tokens', () => {
  it('makes a 43-character base64url token and stores its SHA-256, never the token', () => {
    const { token, tokenHash } = newToken();
    expect(token).to.match(/^[A-Za-z0-9_-]{43}$/);
    expect(tokenHash).to.equal(createHash('sha256').update(token).digest('hex'));
    expect(tokenHash).not.to.contain(token);
    expect(hashToken(token)).to.equal(tokenHash);
  });

  it('makes a different token each time', () => {
    const tokens = new Set(Array.from({ length: 50 }, () => newToken().token));
    expect(tokens.size).to.equal(50);
  });

  it('looks up only strings of exactly 43 base64url characters', () => {
    const shaped = 'a'.repeat(21) + '-_' + 'Z9'.repeat(10);
    expect(shaped).to.have.length(43);
    expect(isTokenShaped(shaped)).to.equal(true);
    for (const value of [
      'a'.repeat(42),
      'a'.repeat(44),
      `${'a'.repeat(42)}=`,
      `${'a'.repeat(42)}.`,
      `x${'a'.repeat(43)}`,
      `${'a'.repeat(43)}\n`,
      '',
      undefined,
      ['a'.repeat(43)],
      { $ne: null },
    ])
      expect(isTokenShaped(value), JSON.stringify(value)).to.equal(false);
  });
});
