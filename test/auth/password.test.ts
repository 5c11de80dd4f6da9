import { execFileSync } from 'node:child_process';
import {
  closeSync,
  constants,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { AppError } from '../../src/lib/errors.js';
import {
  HASH_BUDGET,
  PASSWORD_MIN_LENGTH,
  generatePassword,
  hashPassword,
  hashingSaturated,
  setHashBudget,
  setHashWaitLimit,
  verifyAgainstDummy,
  isCommonPassword,
  isHashingBusy,
  passwordProblem,
  verifyPassword,
} from '../../src/auth/password.js';
import { threadNames } from '../helpers/threads.js';

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

  describe('verifyPassword edges', () => {
    it('compares the NFKC form: full-width letters match their ASCII password', async () => {
      const hash = await hashPassword('shinano-river-2026', { N: 1024, r: 8, p: 1 });
      expect(await verifyPassword('ｓｈｉｎａｎｏ－ｒｉｖｅｒ－２０２６', hash)).to.equal(true);
    });

    it('passes on an error of the hashing thread (a cost scrypt refuses)', async () => {
      let error: unknown;
      await verifyPassword('x', 'scrypt$N=1000,r=8,p=1$abc$def').catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(Error);
      expect(isHashingBusy(error)).to.equal(false);
    });

    it('refuses a stored key of another length instead of failing', async () => {
      const hash = await hashPassword('a long enough passphrase', { N: 1024, r: 8, p: 1 });
      const short = hash.slice(0, -4);
      expect(await verifyPassword('a long enough passphrase', short)).to.equal(false);
    });

    it('verifies costs up to r = 32 and p = 16, and refuses anything above without hashing', async () => {
      const big = await hashPassword('a long enough passphrase', { N: 1024, r: 32, p: 16 });
      expect(await verifyPassword('a long enough passphrase', big)).to.equal(true);
      // Real hashes of a cost above the limits: refused without being hashed again.
      for (const cost of [
        { N: 1024, r: 33, p: 1 },
        { N: 1024, r: 8, p: 17 },
      ]) {
        const over = await hashPassword('a long enough passphrase', cost);
        expect(await verifyPassword('a long enough passphrase', over), over).to.equal(false);
      }
      // N above 2^20 (with r = 1 scrypt would refuse it outright: refused here first).
      const [, , salt, key] = big.split('$');
      expect(
        await verifyPassword('a long enough passphrase', `scrypt$N=2097152,r=1,p=1$${salt}$${key}`),
      ).to.equal(false);
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

    it('counts characters, not UTF-16 units, from 10 to 200', () => {
      expect(passwordProblem('🌸'.repeat(9) + 'x')).to.equal(null);
      expect(passwordProblem('🌸'.repeat(9))).to.equal(
        'パスワードは10文字以上で入力してください。',
      );
      expect(passwordProblem('x'.repeat(150) + 'ながのけん'.repeat(10))).to.equal(null);
      expect(passwordProblem('y'.repeat(151) + 'ながのけん'.repeat(10))).to.equal(
        'パスワードは200文字以内で入力してください。',
      );
    });

    it('refuses short patterns repeated four times or more, in any width or case', () => {
      expect(isCommonPassword('ababababab')).to.equal(true);
      expect(isCommonPassword('xyzxyzxyzxyz')).to.equal(true);
      expect(isCommonPassword('ＰａｓｓＷｏｒｄ１２３')).to.equal(true);
      expect(isCommonPassword('ZZZZZZZZZZ')).to.equal(true);
      expect(isCommonPassword('xyzwxyzwxyzwxyzw')).to.equal(false); // four characters repeated
      expect(isCommonPassword('kiso-kiso-kiso')).to.equal(false); // repeated only three times
      expect(isCommonPassword('zzz')).to.equal(true);
      expect(isCommonPassword('nagano-abababab')).to.equal(false);
      expect(isCommonPassword('abababab-nagano')).to.equal(false);
      expect(isCommonPassword('zzzzzzzzzy')).to.equal(false);
      expect(isCommonPassword('yzzzzzzzzz')).to.equal(false);
    });

    it('refuses personal values of four characters or more, in any case and spacing', () => {
      const refusal = 'メールアドレスや氏名と同じパスワードは使えません。';
      expect(passwordProblem('Zenkoji-Hanako', ['  zenkoji-hanako '])).to.equal(refusal);
      expect(passwordProblem('zenkoji.hanako', ['x@y', 'ZENKOJI.HANAKO@example.jp'])).to.equal(
        refusal,
      );
      expect(passwordProblem('zenkoji.hanako.example', ['zenkoji.hanako@example.jp'])).to.equal(
        null,
      );
      expect(passwordProblem('tsunagu-2026-kiso', ['tsunagu-2026-kiso@example.jp'])).to.equal(
        refusal,
      );
    });

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
      expect(hashingSaturated()).to.equal(false);
      for (let i = 0; i < 20; i++) {
        const generated = generatePassword();
        expect(generated).to.match(/^[\w-]{20}$/);
        expect(passwordProblem(generated)).to.equal(null);
      }
    });
  });
});

/** A check of `stored` asked for now is refused as busy, without waiting for its turn. */
async function expectRefusedAtOnce(stored: string): Promise<void> {
  const asked = Date.now();
  const refused = await verifyPassword('a long enough passphrase', stored).then(
    () => null,
    (error: unknown) => error,
  );
  expect(isHashingBusy(refused), 'refused as busy').to.equal(true);
  expect(Date.now() - asked, 'refused without waiting').to.be.below(250);
}

describe('password hashing under load', () => {
  // The queue's counts: no wait may run out on a loaded machine (the limit has its own test).
  let restore: () => void;
  // Seconds of slow hashes here: without a budget of their own they would leave the next test
  // files of this process an empty one (the budget has its own tests below).
  let restoreBudget: () => void;
  beforeEach(function () {
    restoreBudget = setHashBudget({ share: 1, burstMs: Infinity });
    if (/counts the queue/.test(this.currentTest?.title ?? '')) restore = setHashWaitLimit(60_000);
  });
  afterEach(() => {
    restore?.();
    restore = () => undefined;
    restoreBudget();
  });

  it('runs one hash at a time, lets 16 wait, and refuses the rest at once (503, Japanese; counts the queue)', async () => {
    const hash = await hashPassword('a long enough passphrase', { N: 1024, r: 8, p: 1 });
    const started = Date.now();
    const one = verifyPassword('a long enough passphrase', hash);
    expect(hashingSaturated()).to.equal(false); // one running, none waiting
    await one;
    if (process.platform === 'linux') {
      expect(threadNames(), 'named for top -H and ps -L').to.include('tsunagu-hash');
    }
    const pending = Promise.allSettled(
      Array.from({ length: 30 }, () => verifyPassword('a long enough passphrase', hash)),
    );
    expect(hashingSaturated()).to.equal(true);
    const results = await pending;
    expect(hashingSaturated()).to.equal(false);
    const refused = results.filter((result) => result.status === 'rejected');
    expect(refused.every((result) => isHashingBusy(result.reason))).to.equal(true);
    expect(isHashingBusy(new Error('busy'))).to.equal(false);
    expect(isHashingBusy(Object.assign(new Error('busy'), { code: 'busy' }))).to.equal(false);
    expect(
      isHashingBusy(new AppError('見つかりません。', { status: 404, code: 'not_found' })),
    ).to.equal(false);
    expect(refused).to.have.length(13);
    for (const result of refused) {
      const reason = result.reason as AppError;
      expect(reason.status).to.equal(503);
      expect(reason.expose).to.equal(true);
      expect(reason.message).to.contain('混み合っています');
    }
    const accepted = results.filter((result) => result.status === 'fulfilled');
    expect(accepted.map((result) => result.value)).to.deep.equal(Array(17).fill(true));
    expect(Date.now() - started).to.be.below(10_000);
  });

  it('refuses a hash that has waited half a second without starting, and goes on with the rest', async function () {
    this.timeout(30_000);
    // A costly hash (about a second or more here) holds the slot.
    const slow = await hashPassword('a long enough passphrase', { N: 2 ** 17, r: 8, p: 1 });
    const cheap = await hashPassword('a long enough passphrase', { N: 1024, r: 8, p: 1 });
    // Cheap hashes just before: the queue expects the slot back soon and lets the next one
    // wait (the estimate is wrong this time: the deadline refuses it).
    for (let i = 0; i < 20; i++) await verifyPassword('a long enough passphrase', cheap);
    const started = Date.now();
    const holding = verifyPassword('a long enough passphrase', slow);
    const waiting = verifyPassword('a long enough passphrase', cheap).then(
      () => ({ refused: false, ms: Date.now() - started }),
      (error: unknown) => ({ refused: isHashingBusy(error), ms: Date.now() - started }),
    );
    const outcome = await waiting;
    expect(outcome.refused, 'refused as busy').to.equal(true);
    expect(outcome.ms).to.be.within(450, 1_500);
    expect(await holding).to.equal(true);
    expect(hashingSaturated()).to.equal(false);
    // The refused hash left the queue: the next one runs at once.
    expect(await verifyPassword('a long enough passphrase', cheap)).to.equal(true);
  });

  it('refuses at once a hash that recent hashes say would not start within half a second', async function () {
    this.timeout(30_000);
    // Hashes of about a second or more (N = 2^17): the next one waits at least that long.
    const slow = await hashPassword('a long enough passphrase', { N: 2 ** 17, r: 8, p: 1 });
    const cheap = await hashPassword('a long enough passphrase', { N: 1024, r: 8, p: 1 });
    // The estimate weighs recent hashes: after the cheap ones of earlier tests in this process
    // it takes two or three slow ones to say that the next hash would wait over half a second.
    let holding = verifyPassword('a long enough passphrase', slow);
    for (let i = 0; i < 6 && !hashingSaturated(); i++) {
      expect(await holding).to.equal(true);
      holding = verifyPassword('a long enough passphrase', slow);
    }
    expect(hashingSaturated(), 'saturated while a slow hash runs after slow ones').to.equal(true);
    await expectRefusedAtOnce(cheap);
    expect(await holding).to.equal(true);
    // Idle again: the next hash runs at once, whatever the last ones took.
    expect(hashingSaturated()).to.equal(false);
    expect(await verifyPassword('a long enough passphrase', cheap)).to.equal(true);
  });

  it('checks unknown addresses against a dummy hash, which waits its turn like a real check (counts the queue)', async () => {
    const hash = await hashPassword('a long enough passphrase', { N: 1024, r: 8, p: 1 });
    await verifyAgainstDummy('a guess for an unknown address');
    // With one check running and 16 waiting, the dummy check is refused like any other.
    const load = Array.from({ length: 17 }, () => verifyPassword('guess', hash));
    let refused: unknown;
    await verifyAgainstDummy('another guess').catch((e: unknown) => (refused = e));
    await Promise.all(load);
    expect(isHashingBusy(refused)).to.equal(true);
    await verifyAgainstDummy('a guess when the queue is free again');
  });

  it('hashes without a thread of libuv’s pool, which the store’s writes and fsyncs need', async function () {
    if (process.platform !== 'linux') this.skip();
    this.timeout(20_000);
    const dir = mkdtempSync(path.join(tmpdir(), 'tsunagu-pool-'));
    const poolSize = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
    const fifos = Array.from({ length: poolSize }, (_, i) => path.join(dir, `fifo-${i}`));
    for (const fifo of fifos) execFileSync('mkfifo', [fifo]);
    // Opening a FIFO for reading waits for a writer in its pool thread: every thread is taken.
    const opened = fifos.map((fifo) => open(fifo, 'r'));
    await new Promise((resolve) => setTimeout(resolve, 200));
    try {
      const outcome = await Promise.race([
        hashPassword('a long enough passphrase', { N: 1024, r: 8, p: 1 }).then(() => 'hashed'),
        new Promise((resolve) => setTimeout(resolve, 3000, 'waited for the pool')),
      ]);
      expect(outcome).to.equal('hashed');
    } finally {
      // A read-write open of a FIFO never blocks and counts as its writer: the readers go on.
      for (const fifo of fifos) closeSync(openSync(fifo, constants.O_RDWR));
      for (const handle of await Promise.all(opened)) await handle.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('hashes in a thread of the lowest priority, so pages are served first (Linux)', async function () {
    if (process.platform !== 'linux') this.skip();
    /** The nice value of each thread of this process (field 19 of /proc/…/stat). */
    const niceOf = (tid: string) => {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    };
    await hashPassword('a long enough passphrase', { N: 1024, r: 8, p: 1 });
    const main = niceOf(String(process.pid));
    if (main === 19) this.skip(); // the whole test run is already at the lowest priority
    const threads = readdirSync('/proc/self/task').map(niceOf);
    expect(threads).to.include(19);
    expect(threads.filter((nice) => nice === 19)).to.have.length(1);
    expect(niceOf(String(process.pid))).to.equal(main);
  });
});

describe('password hashing budget', () => {
  let restoreBudget: () => void = () => undefined;
  afterEach(() => restoreBudget());

  it('gives failed checks a quarter of the time, after a burst of 2 s of hashing', () => {
    // Written out: the figures bench:load was measured with (README, sign-in limits and Speed).
    expect(HASH_BUDGET).to.deep.equal({ share: 0.25, burstMs: 2_000 });
    expect(Object.isFrozen(HASH_BUDGET)).to.equal(true);
  });

  it('runs a burst of failed checks within the budget without rests', async () => {
    const cheap = await hashPassword('a long enough passphrase', { N: 1024, r: 8, p: 1 });
    restoreBudget = setHashBudget({ share: 0.01, burstMs: 60_000 });
    for (let i = 0; i < 20; i++) {
      expect(await verifyPassword('a wrong guess', cheap)).to.equal(false);
      expect(hashingSaturated(), `free again after hash ${i + 1}`).to.equal(false);
    }
  });

  it('rests after a failed check past the budget: a sign-in meanwhile is refused at once, and hashing resumes after the rest', async function () {
    this.timeout(120_000);
    const costly = await hashPassword('a long enough passphrase', { N: 2 ** 14, r: 8, p: 1 });
    const cheap = await hashPassword('a long enough passphrase', { N: 1024, r: 8, p: 1 });
    // A share chosen from what a check takes on this machine now (right passwords are free; the
    // quickest of three, the first being slower), so that the rest after a failed one lasts
    // about 3 s however loaded the machine is.
    let typical = Infinity;
    for (let i = 0; i < 3; i++) {
      const timed = Date.now();
      expect(await verifyPassword('a long enough passphrase', costly)).to.equal(true);
      typical = Math.min(typical, Math.max(1, Date.now() - timed));
    }
    const share = typical / (typical + 3_000);
    restoreBudget = setHashBudget({ share, burstMs: 0 });
    const started = Date.now();
    expect(await verifyPassword('a wrong guess', costly)).to.equal(false);
    const took = Date.now() - started;
    expect(hashingSaturated(), 'resting after a hash that spent the budget').to.equal(true);
    await expectRefusedAtOnce(cheap);
    // The rest is what the hash cost beyond what the budget earned meanwhile. A sign-in is
    // refused while over 0.5 s of it remain: that ends about 0.5 s before the rest does.
    const rest = (took * (1 - share)) / share;
    while (hashingSaturated() && Date.now() - started < rest * 2 + 5_000) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const refusing = Date.now() - started;
    expect(hashingSaturated(), 'the rest is over').to.equal(false);
    expect(refusing + 500, `rest ${Math.round(rest)} ms`).to.be.within(
      rest * 0.5,
      rest * 1.5 + 500,
    );
    expect(await verifyPassword('a long enough passphrase', cheap)).to.equal(true);
  });

  it('lets a hash wait behind a short rest, as behind a running hash', async function () {
    this.timeout(30_000);
    const cheap = await hashPassword('a long enough passphrase', { N: 1024, r: 8, p: 1 });
    // A cheap hash (a few ms) at a 50 % share rests about as long as it ran: the next one waits.
    // The wait limit is lifted: on a loaded machine, or after the slow hashes of earlier tests,
    // the estimate alone would refuse the second hash (refusals have their own tests).
    restoreBudget = setHashBudget({ share: 0.5, burstMs: 0 });
    const restoreLimit = setHashWaitLimit(60_000);
    try {
      const first = verifyPassword('a wrong guess', cheap);
      const second = verifyPassword('a long enough passphrase', cheap);
      expect(await first).to.equal(false);
      expect(await second).to.equal(true);
    } finally {
      restoreLimit();
    }
  });

  it('charges nothing for a right password or a new hash', async function () {
    this.timeout(30_000);
    const costly = await hashPassword('a long enough passphrase', { N: 2 ** 15, r: 8, p: 1 });
    restoreBudget = setHashBudget({ share: 0.05, burstMs: 0 }); // a rest of 19 times the hash
    for (let i = 0; i < 3; i++) {
      expect(await verifyPassword('a long enough passphrase', costly)).to.equal(true);
      expect(hashingSaturated(), `no rest after right password ${i + 1}`).to.equal(false);
    }
    await hashPassword('a new passphrase here', { N: 2 ** 15, r: 8, p: 1 });
    expect(hashingSaturated(), 'no rest after a new hash').to.equal(false);
    expect(await verifyPassword('a wrong guess', costly)).to.equal(false);
    expect(hashingSaturated(), 'resting after a failed check').to.equal(true);
    // A fresh budget ends the rest: the next test file of this process signs in at once.
    restoreBudget();
    restoreBudget = () => undefined;
    expect(hashingSaturated(), 'no rest with a full budget').to.equal(false);
    expect(await verifyPassword('a long enough passphrase', costly)).to.equal(true);
  });
});
