import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { expect } from 'chai';
import type { AppError } from '../../src/lib/errors.js';
import {
  PASSWORD_MIN_LENGTH,
  generatePassword,
  hashPassword,
  isCommonPassword,
  passwordProblem,
  verifyPassword,
} from '../../src/auth/password.js';

describe('passwords', () => {
  describe('hashPassword / verifyPassword', () => {
    it('stores a self-describing scrypt hash with a per-user salt', async () => {
      const a = await hashPassword('a long enough passphrase');
      const b = await hashPassword('a long enough passphrase');
      expect(a).to.match(/^scrypt\$N=32768,r=8,p=1\$[\w-]+\$[\w-]+$/);
      expect(a).not.to.equal(b);
      expect(a).not.to.contain('passphrase');
    });

    it('accepts the right password and refuses others', async () => {
      const hash = await hashPassword('a long enough passphrase');
      expect(await verifyPassword('a long enough passphrase', hash)).to.equal(true);
      expect(await verifyPassword('a long enough passphrasf', hash)).to.equal(false);
      expect(await verifyPassword('', hash)).to.equal(false);
    });

    it('verifies hashes made with another cost, and refuses malformed ones', async () => {
      const cheap = await hashPassword('another passphrase', { N: 1024, r: 8, p: 1 });
      expect(cheap).to.match(/^scrypt\$N=1024,/);
      expect(await verifyPassword('another passphrase', cheap)).to.equal(true);
      expect(await verifyPassword('x', 'plain-text')).to.equal(false);
      expect(await verifyPassword('x', 'scrypt$N=999999999,r=8,p=1$abc$def')).to.equal(false);
    });
  });

  describe('passwordProblem', () => {
    const cases: [string, string | null][] = [
      ['', 'パスワードを入力してください。'],
      ['short1234', `パスワードは${PASSWORD_MIN_LENGTH}文字以上で入力してください。`],
      [
        'password123',
        'このパスワードはよく使われていて推測されやすいため、使えません。別のパスワードにしてください。',
      ],
      [
        '1234567890',
        'このパスワードはよく使われていて推測されやすいため、使えません。別のパスワードにしてください。',
      ],
      [
        'QWERTYUIOP',
        'このパスワードはよく使われていて推測されやすいため、使えません。別のパスワードにしてください。',
      ],
      [
        'aaaaaaaaaaaa',
        'このパスワードはよく使われていて推測されやすいため、使えません。別のパスワードにしてください。',
      ],
      [
        'abcabcabcabc',
        'このパスワードはよく使われていて推測されやすいため、使えません。別のパスワードにしてください。',
      ],
      ['shinano-river-2026', null],
      ['ながのけんの山と川と湖', null],
    ];
    for (const [password, expected] of cases) {
      it(`${JSON.stringify(password)} → ${expected ?? 'accepted'}`, () => {
        expect(passwordProblem(password)).to.equal(expected);
      });
    }

    it('refuses the e-mail address or its local part', () => {
      expect(passwordProblem('hanako.nagano@example.jp', ['hanako.nagano@example.jp'])).to.contain(
        'メールアドレス',
      );
      expect(passwordProblem('hanako.nagano', ['hanako.nagano@example.jp'])).to.contain(
        'メールアドレス',
      );
    });

    it('ships a list of common passwords of the minimum length and more', () => {
      expect(isCommonPassword('iloveyou12')).to.equal(true);
      expect(isCommonPassword('basketball')).to.equal(true);
    });

    it('generates passwords that pass the rules', () => {
      for (let i = 0; i < 20; i++) expect(passwordProblem(generatePassword())).to.equal(null);
    });
  });
});

describe('password hashing under load', () => {
  it('runs one hash at a time, lets 16 wait, and refuses the rest at once (503, Japanese)', async () => {
    const hash = await hashPassword('a long enough passphrase', { N: 1024, r: 8, p: 1 });
    // Count the scrypt calls running at once (the module's named import follows the patch).
    const original = crypto.scrypt;
    let running = 0;
    let peak = 0;
    const counting = (...args: unknown[]) => {
      const done = args.pop() as (error: Error | null, key: Buffer) => void;
      running++;
      peak = Math.max(peak, running);
      (original as (...a: unknown[]) => void)(...args, (error: Error | null, key: Buffer) => {
        running--;
        done(error, key);
      });
    };
    (crypto as { scrypt: unknown }).scrypt = counting;
    syncBuiltinESMExports();
    try {
      const started = Date.now();
      const results = await Promise.allSettled(
        Array.from({ length: 30 }, () => verifyPassword('a long enough passphrase', hash)),
      );
      const refused = results.filter((result) => result.status === 'rejected');
      expect(refused).to.have.length(13);
      for (const result of refused) {
        const reason = result.reason as AppError;
        expect(reason.status).to.equal(503);
        expect(reason.message).to.contain('混み合っています');
      }
      const accepted = results.filter((result) => result.status === 'fulfilled');
      expect(accepted.map((result) => result.value)).to.deep.equal(Array(17).fill(true));
      expect(peak).to.equal(1);
      expect(Date.now() - started).to.be.below(10_000);
    } finally {
      (crypto as { scrypt: unknown }).scrypt = original;
      syncBuiltinESMExports();
    }
  });
});
