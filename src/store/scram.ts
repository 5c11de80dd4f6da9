import {
  createHash,
  createHmac,
  pbkdf2Sync,
  randomBytes,
  timingSafeEqual,
  type BinaryLike,
} from 'node:crypto';
import { Binary, type Document } from 'bson';
import { StoreError } from './errors.js';

/**
 * The server side of SCRAM-SHA-256 (RFC 5802 / RFC 7677) as MongoDB speaks it through
 * `saslStart` and `saslContinue`, for the optional TCP listener of the store. One user; the
 * server keeps only the salted keys, never the password.
 */

const ITERATIONS = 15_000;
export const MECHANISM = 'SCRAM-SHA-256';

export interface ScramUser {
  username: string;
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

const hmac = (key: BinaryLike, text: BinaryLike) => createHmac('sha256', key).update(text).digest();

/** The keys for `password`; the password itself is not kept. ASCII passwords need no SASLprep. */
export function scramUser(username: string, password: string): ScramUser {
  if (!/^[\x21-\x7e]+$/.test(password)) throw new Error('SCRAM password must be printable ASCII');
  const salt = randomBytes(28);
  const salted = pbkdf2Sync(password, salt, ITERATIONS, 32, 'sha256');
  const clientKey = hmac(salted, 'Client Key');
  return {
    username,
    salt,
    iterations: ITERATIONS,
    storedKey: createHash('sha256').update(clientKey).digest(),
    serverKey: hmac(salted, 'Server Key'),
  };
}

const authFailed = () => new StoreError(18, 'Authentication failed.');

function payloadText(body: Document): string {
  const payload = body.payload as unknown;
  if (payload instanceof Binary) return Buffer.from(payload.buffer).toString('utf8');
  if (payload instanceof Uint8Array) return Buffer.from(payload).toString('utf8');
  if (typeof payload === 'string') return payload;
  throw new StoreError(2, 'payload must be binary');
}

/** `a=1,b=2` → { a: '1', b: '2' } (values may contain '='). */
function attributes(text: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const part of text.split(',')) {
    const at = part.indexOf('=');
    if (at > 0) found.set(part.slice(0, at), part.slice(at + 1));
  }
  return found;
}

const reply = (conversationId: number, done: boolean, text: string): Document => ({
  conversationId,
  done,
  payload: new Binary(Buffer.from(text, 'utf8')),
  ok: 1,
});

/** One connection's authentication: saslStart, then saslContinue until done. */
export class ScramConversation {
  private step: 'start' | 'proof' | 'final' | 'done' = 'start';
  private authMessagePrefix = '';
  private nonce = '';
  private skipEmptyExchange = false;
  authenticated = false;

  constructor(private readonly user: ScramUser) {}

  start(body: Document): Document {
    if (body.mechanism !== MECHANISM) {
      throw new StoreError(
        2,
        `Received authentication for mechanism ${String(body.mechanism)} which is not enabled`,
      );
    }
    const text = payloadText(body);
    // gs2 header "n,," (no channel binding, no authzid), then the client-first-message-bare.
    if (!text.startsWith('n,,')) throw authFailed();
    const bare = text.slice(3);
    const fields = attributes(bare);
    const username = (fields.get('n') ?? '').replaceAll('=2C', ',').replaceAll('=3D', '=');
    const clientNonce = fields.get('r') ?? '';
    if (!clientNonce || username !== this.user.username) {
      this.step = 'done';
      throw authFailed();
    }
    this.nonce = clientNonce + randomBytes(24).toString('base64');
    const serverFirst = `r=${this.nonce},s=${this.user.salt.toString('base64')},i=${this.user.iterations}`;
    this.authMessagePrefix = `${bare},${serverFirst}`;
    this.skipEmptyExchange = (body.options as Document | undefined)?.skipEmptyExchange === true;
    this.step = 'proof';
    return reply(1, false, serverFirst);
  }

  continue(body: Document): Document {
    if (body.conversationId !== undefined && Number(body.conversationId) !== 1) {
      throw new StoreError(17, 'No SASL session state found');
    }
    if (this.step === 'final') {
      this.step = 'done';
      return reply(1, true, '');
    }
    if (this.step !== 'proof') throw new StoreError(17, 'No SASL session state found');
    this.step = 'done';
    const text = payloadText(body);
    const proofAt = text.lastIndexOf(',p=');
    if (proofAt < 0) throw authFailed();
    const withoutProof = text.slice(0, proofAt);
    const fields = attributes(withoutProof);
    if (fields.get('c') !== 'biws' || fields.get('r') !== this.nonce) throw authFailed();
    const proof = Buffer.from(text.slice(proofAt + 3), 'base64');
    const authMessage = `${this.authMessagePrefix},${withoutProof}`;
    const clientSignature = hmac(this.user.storedKey, authMessage);
    if (proof.length !== clientSignature.length) throw authFailed();
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i] ^ clientSignature[i];
    const storedKey = createHash('sha256').update(clientKey).digest();
    if (!timingSafeEqual(storedKey, this.user.storedKey)) throw authFailed();
    this.authenticated = true;
    const serverSignature = hmac(this.user.serverKey, authMessage).toString('base64');
    if (this.skipEmptyExchange) return reply(1, true, `v=${serverSignature}`);
    this.step = 'final';
    return reply(1, false, `v=${serverSignature}`);
  }
}
