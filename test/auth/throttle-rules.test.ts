/**
 * The throttle's rules called directly against the store (no HTTP): keys, limits, the 15-minute
 * window, reservations given back, and the wait messages. Each test uses keys of its own.
 */
import { createHash, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import {
  ThrottleCounter,
  accountKey,
  clearAttempts,
  currentPasswordKey,
  currentPasswordLimit,
  currentPasswordWaitMessage,
  formLimit,
  formWaitMessage,
  ipKey,
  loginLimits,
  recordAttempt,
  releaseAttempts,
  reserveAttempt,
  waitBeforeAttempt,
  waitMessage,
  type Limit,
} from '../../src/auth/throttle.js';
import { createTestApp, testStore, type TestApp } from '../helpers/app.js';
import { commandsDuring } from '../helpers/commands.js';

const MINUTE = 60_000;
const WINDOW = 15 * MINUTE;
const NOW = new Date('2026-06-01T09:00:00Z');

function at(minutesBefore: number): Date {
  return new Date(NOW.getTime() - minutesBefore * MINUTE);
}

function freshKey(): string {
  return `test:${randomUUID()}`;
}

async function attemptsOf(key: string) {
  const counter = await ThrottleCounter.findOne({ key }).lean();
  return counter?.attempts ?? [];
}

describe('throttle rules', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  describe('keys and limits', () => {
    it('hashes the trimmed, lower-cased address into the account key, never the address', () => {
      const hex = createHash('sha256').update('hanako@example.jp').digest('hex');
      expect(accountKey('hanako@example.jp')).to.equal(`account:${hex}`);
      expect(accountKey('  Hanako@Example.JP ')).to.equal(`account:${hex}`);
      expect(accountKey('taro@example.jp')).not.to.equal(`account:${hex}`);
    });

    it('names address, form and current-password keys', () => {
      expect(ipKey('203.0.113.5')).to.equal('ip:203.0.113.5');
      expect(ipKey(undefined)).to.equal('ip:unknown');
      expect(currentPasswordKey('abc123')).to.equal('current-password:abc123');
      expect(formLimit('register', '203.0.113.5')).to.deep.equal({
        key: 'register:203.0.113.5',
        max: 10,
      });
      expect(formLimit('forgot', undefined)).to.deep.equal({ key: 'forgot:unknown', max: 20 });
    });

    it('allows 5 failures per account, 30 per address, 5 wrong current passwords', () => {
      expect(loginLimits('Hanako@example.jp', '203.0.113.5')).to.deep.equal([
        { key: accountKey('hanako@example.jp'), max: 5 },
        { key: 'ip:203.0.113.5', max: 30 },
      ]);
      expect(currentPasswordLimit('abc123')).to.deep.equal({
        key: 'current-password:abc123',
        max: 5,
      });
    });
  });

  describe('wait messages', () => {
    const cases: [number, number][] = [
      [0, 1],
      [1, 1],
      [MINUTE, 1],
      [MINUTE + 1, 2],
      [WINDOW, 15],
    ];
    for (const [ms, minutes] of cases) {
      it(`${ms} ms → 約${minutes}分後`, () => {
        expect(waitMessage(ms)).to.equal(
          `ログインの失敗が続いたため、一時的にログインを制限しています。約${minutes}分後にもう一度お試しください。`,
        );
        expect(currentPasswordWaitMessage(ms)).to.equal(
          `現在のパスワードの誤りが続いたため、一時的にパスワードの変更を制限しています。約${minutes}分後にもう一度お試しください。`,
        );
        expect(formWaitMessage(ms)).to.equal(
          `短い時間に多くの送信がありました。約${minutes}分後にもう一度お試しください。`,
        );
      });
    }
  });

  describe('waitBeforeAttempt and recordAttempt', () => {
    it('allows a key with no attempts, or fewer than its limit', async () => {
      const key = freshKey();
      expect(await waitBeforeAttempt([{ key, max: 3 }], NOW)).to.equal(0);
      await recordAttempt([{ key, max: 3 }], at(1));
      await recordAttempt([{ key, max: 3 }], at(1));
      expect(await waitBeforeAttempt([{ key, max: 3 }], NOW)).to.equal(0);
    });

    it('waits until the oldest of the last `max` attempts leaves the 15-minute window', async () => {
      const key = freshKey();
      for (const minutes of [14, 10, 5]) await recordAttempt([{ key, max: 3 }], at(minutes));
      expect(await waitBeforeAttempt([{ key, max: 3 }], NOW)).to.equal(MINUTE);
      // A fourth attempt pushes the oldest out: the wait is now until the 10-minute one leaves.
      await recordAttempt([{ key, max: 3 }], at(2));
      expect(await attemptsOf(key)).to.have.length(3);
      expect(await waitBeforeAttempt([{ key, max: 3 }], NOW)).to.equal(5 * MINUTE);
      // Once the window has passed for it: no wait (never a negative one).
      expect(await waitBeforeAttempt([{ key, max: 3 }], new Date(NOW.getTime() + WINDOW))).to.equal(
        0,
      );
    });

    it('answers the longest wait of several keys', async () => {
      const short = freshKey();
      const long = freshKey();
      await recordAttempt([{ key: short, max: 1 }], at(13));
      await recordAttempt([{ key: long, max: 1 }], at(5));
      const limits = [
        { key: short, max: 1 },
        { key: long, max: 1 },
      ];
      expect(await waitBeforeAttempt(limits, NOW)).to.equal(10 * MINUTE);
      expect(await waitBeforeAttempt([...limits].reverse(), NOW)).to.equal(10 * MINUTE);
    });

    it('reads every key in one query, each key judged by its own limit', async function () {
      if (!testStore()) this.skip(); // counts commands of the embedded store
      const full = freshKey();
      const roomy = freshKey();
      for (const minutes of [9, 8]) await recordAttempt([{ key: full, max: 2 }], at(minutes));
      await recordAttempt([{ key: roomy, max: 5 }], at(9));
      const limits = [
        { key: roomy, max: 5 },
        { key: full, max: 2 },
        { key: freshKey(), max: 1 },
      ];
      let wait = -1;
      const commands = await commandsDuring(async () => {
        wait = await waitBeforeAttempt(limits, NOW);
      });
      expect(wait).to.equal(6 * MINUTE);
      expect(commands).to.deep.equal({ 'find throttle_counters': 1 });
    });

    it('keeps the key until the window of its latest attempt ends', async () => {
      const key = freshKey();
      await recordAttempt([{ key, max: 2 }], at(3));
      const counter = await ThrottleCounter.findOne({ key }).lean();
      expect(counter!.expiresAt.getTime()).to.equal(at(3).getTime() + WINDOW);
    });

    it('counts parallel first attempts on a new key, each once', async () => {
      const key = freshKey();
      await Promise.all(Array.from({ length: 4 }, () => recordAttempt([{ key, max: 10 }], NOW)));
      expect(await attemptsOf(key)).to.have.length(4);
    });

    it('clearAttempts removes the key and nothing else', async () => {
      const key = freshKey();
      const other = freshKey();
      await recordAttempt([{ key: other, max: 1 }], NOW);
      await recordAttempt([{ key, max: 1 }], NOW);
      await clearAttempts(key);
      expect(await ThrottleCounter.countDocuments({ key })).to.equal(0);
      expect(await ThrottleCounter.countDocuments({ key: other })).to.equal(1);
    });
  });

  describe('reserveAttempt', () => {
    it('reserves up to the limit within the window, then answers the wait and the key', async () => {
      const key = freshKey();
      const limits: Limit[] = [{ key, max: 2 }];
      for (const minutes of [10, 4]) {
        const reserved = await reserveAttempt(limits, at(minutes));
        expect(reserved).to.have.property('reservations').with.length(1);
      }
      expect(await reserveAttempt(limits, NOW)).to.deep.equal({ wait: 5 * MINUTE, key });
      expect(await attemptsOf(key)).to.have.length(2);
      // At the end of the window of the older one, it may go again.
      const later = new Date(at(10).getTime() + WINDOW);
      expect(await reserveAttempt(limits, later)).to.have.property('reservations');
      const kept = await attemptsOf(key);
      expect(kept.map((attempt) => attempt.at.getTime())).to.deep.equal([
        at(4).getTime(),
        later.getTime(),
      ]);
      const counter = await ThrottleCounter.findOne({ key }).lean();
      expect(counter!.expiresAt.getTime()).to.equal(later.getTime() + WINDOW);
    });

    it('reserves one attempt under every limit, with the same id, to give back', async () => {
      const account = freshKey();
      const address = freshKey();
      const reserved = await reserveAttempt(
        [
          { key: account, max: 5 },
          { key: address, max: 30 },
        ],
        NOW,
      );
      if (!('reservations' in reserved)) throw new Error('not reserved');
      expect(reserved.reservations.map((r) => r.key)).to.deep.equal([account, address]);
      const [a, b] = [await attemptsOf(account), await attemptsOf(address)];
      expect(a).to.have.length(1);
      expect(b).to.have.length(1);
      expect(reserved.reservations.map((r) => r.id)).to.deep.equal([a[0].id, a[0].id]);
      expect(b[0].id).to.equal(a[0].id);
      await releaseAttempts(reserved.reservations);
      expect(await attemptsOf(account)).to.have.length(0);
      expect(await attemptsOf(address)).to.have.length(0);
    });

    it('gives back only the reservation named, not the other attempts of the key', async () => {
      const key = freshKey();
      await recordAttempt([{ key, max: 5 }], at(2));
      const reserved = await reserveAttempt([{ key, max: 5 }], NOW);
      if (!('reservations' in reserved)) throw new Error('not reserved');
      await releaseAttempts(reserved.reservations);
      const kept = await attemptsOf(key);
      expect(kept.map((attempt) => attempt.at.getTime())).to.deep.equal([at(2).getTime()]);
    });

    it('when a later limit refuses, keeps nothing counted under the earlier ones', async () => {
      const account = freshKey();
      const address = freshKey();
      await recordAttempt([{ key: address, max: 1 }], at(7));
      const refused = await reserveAttempt(
        [
          { key: account, max: 5 },
          { key: address, max: 1 },
        ],
        NOW,
      );
      expect(refused).to.deep.equal({ wait: 8 * MINUTE, key: address });
      expect(await attemptsOf(account)).to.have.length(0);
      expect(await attemptsOf(address)).to.have.length(1);
    });

    it('answers a wait of at least a second', async () => {
      const key = freshKey();
      // The only attempt leaves the window half a second from now.
      await recordAttempt([{ key, max: 1 }], new Date(NOW.getTime() - WINDOW + 500));
      expect(await reserveAttempt([{ key, max: 1 }], NOW)).to.deep.equal({ wait: 1000, key });
    });

    it('passes on a store error instead of taking it for a refusal', async () => {
      const key = freshKey();
      // A damaged counter: pushing to it fails in the store (not a duplicate key).
      await ThrottleCounter.collection.insertOne({ key, attempts: 'damaged', expiresAt: NOW });
      let error: unknown;
      await reserveAttempt([{ key, max: 5 }], NOW).catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(Error);
      expect((error as Error).message).to.contain("'attempts' must be an array");
    });

    it('lets parallel reservations on a new key pass only up to the limit', async () => {
      const key = freshKey();
      const answers = await Promise.all(
        Array.from({ length: 8 }, () => reserveAttempt([{ key, max: 3 }], NOW)),
      );
      expect(answers.filter((answer) => 'reservations' in answer)).to.have.length(3);
      expect(await attemptsOf(key)).to.have.length(3);
    });
  });
});
