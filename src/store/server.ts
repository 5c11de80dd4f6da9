import { chmod } from 'node:fs/promises';
import net from 'node:net';
import type { Document } from 'bson';
import type { Logger } from '../lib/logger.js';
import { runCommand } from './commands/index.js';
import type { CursorRegistry } from './cursors.js';
import type { Engine } from './engine.js';
import { StoreError } from './errors.js';
import { MECHANISM, ScramConversation, type ScramUser } from './scram.js';
import {
  MalformedMessage,
  OP_QUERY,
  encodeMsg,
  encodeReply,
  maxMessageBytes,
  parseMessage,
} from './wire.js';

export interface WireServerOptions {
  engine: Engine;
  cursors: CursorRegistry;
  logger: Logger;
  /** The one user who may authenticate (SCRAM-SHA-256); required on the TCP listener. */
  user?: ScramUser;
}

/** What a TCP connection may send before it has authenticated. */
const beforeAuthentication = new Set([
  'hello',
  'isMaster',
  'ismaster',
  'ping',
  'saslStart',
  'saslContinue',
]);

interface AuthState {
  conversation: ScramConversation | null;
  authenticated: boolean;
}

/** Accepts driver connections and answers their messages one at a time, in order. */
export class WireServer {
  private readonly server: net.Server;
  private tcpServer: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  private nextConnectionId = 1;
  private readonly startedAt = new Date();
  /** Commands answered, by "<command> <collection>" (diagnostics: round trips per request). */
  readonly commandCounts = new Map<string, number>();

  constructor(private readonly opts: WireServerOptions) {
    this.server = net.createServer((socket) => this.accept(socket, null));
  }

  /**
   * Listens on a Unix domain socket at `socketPath`, then makes it 0600. Its directory is 0700
   * (the caller's duty), so nobody else can reach it in between.
   */
  async listen(socketPath: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ path: socketPath, exclusive: true }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    await chmod(socketPath, 0o600);
  }

  /**
   * Also listens on TCP at host:port, where every connection must authenticate with SCRAM-SHA-256
   * as `opts.user` before any command but hello, ping and the SASL exchange. Resolves the port.
   */
  listenTcp(port: number, host: string): Promise<number> {
    const user = this.opts.user;
    if (!user) return Promise.reject(new Error('store: TCP needs a user to authenticate'));
    const server = net.createServer((socket) =>
      this.accept(socket, { conversation: null, authenticated: false }),
    );
    this.tcpServer = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  }

  /** What the server listens on: the socket path, then the TCP address when there is one. */
  addresses(): (string | net.AddressInfo)[] {
    return [this.server.address(), this.tcpServer?.address()].filter(
      (a): a is string | net.AddressInfo => a !== null && a !== undefined,
    );
  }

  get connections(): number {
    return this.sockets.size;
  }

  private accept(socket: net.Socket, auth: AuthState | null): void {
    const connectionId = this.nextConnectionId++;
    this.sockets.add(socket);
    socket.setNoDelay(true);
    let buffered: Buffer[] = [];
    let length = 0;
    let queue: Promise<void> = Promise.resolve();
    const fail = (reason: string) => {
      this.opts.logger.warn(
        { connectionId, reason },
        'store: malformed message, closing connection',
      );
      buffered = [];
      length = 0;
      socket.destroy();
    };
    socket.on('data', (chunk) => {
      buffered.push(chunk);
      length += chunk.length;
      while (length >= 4) {
        if (buffered[0].length < 4) buffered = [Buffer.concat(buffered)];
        const size = buffered[0].readInt32LE(0);
        if (size < 16 || size > maxMessageBytes) return fail(`bad message length ${size}`);
        // Join the chunks only once the whole message is there (no quadratic copying).
        if (length < size) return;
        const head = buffered.length === 1 ? buffered[0] : Buffer.concat(buffered);
        const message = head.subarray(0, size);
        const rest = head.subarray(size);
        buffered = rest.length ? [rest] : [];
        length = rest.length;
        let request;
        try {
          request = parseMessage(message);
        } catch (err) {
          return fail(err instanceof MalformedMessage ? err.message : String(err));
        }
        const req = request;
        this.count(req.body);
        queue = queue.then(async () => {
          const reply =
            (auth && this.authenticate(req.body, auth, connectionId)) ??
            (await runCommand(req.body, {
              engine: this.opts.engine,
              cursors: this.opts.cursors,
              db: req.db,
              connectionId,
              logger: this.opts.logger,
              startedAt: this.startedAt,
            }));
          if (auth && typeof req.body.saslSupportedMechs === 'string') {
            reply.saslSupportedMechs = [MECHANISM];
          }
          if (req.moreToCome || socket.destroyed) return;
          let bytes: Buffer;
          try {
            bytes = this.encode(req.opCode, req.requestId, reply);
          } catch (err) {
            const error = new StoreError(
              10334,
              `reply cannot be encoded: ${(err as Error).message}`,
            );
            bytes = this.encode(req.opCode, req.requestId, error.toReply());
          }
          socket.write(bytes);
        });
        queue = queue.catch((err: unknown) => {
          this.opts.logger.error(
            { connectionId, err: (err as Error).message },
            'store: cannot answer',
          );
          socket.destroy();
        });
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
  }

  /**
   * On an authenticating connection: answers the SASL exchange, and refuses every other command
   * until it succeeded. Returns null when the command may run.
   */
  private authenticate(body: Document, auth: AuthState, connectionId: number): Document | null {
    const name = Object.keys(body)[0] ?? '';
    try {
      if (name === 'saslStart') {
        auth.conversation = new ScramConversation(this.opts.user!);
        return auth.conversation.start(body);
      }
      if (name === 'saslContinue') {
        if (!auth.conversation) throw new StoreError(17, 'No SASL session state found');
        const reply = auth.conversation.continue(body);
        auth.authenticated ||= auth.conversation.authenticated;
        return reply;
      }
    } catch (err) {
      if (!(err instanceof StoreError)) throw err;
      if (err.code === 18) this.opts.logger.warn({ connectionId }, 'store: authentication failed');
      return err.toReply();
    }
    if (auth.authenticated || beforeAuthentication.has(name)) return null;
    return new StoreError(13, `command ${name} requires authentication`).toReply();
  }

  private count(body: Document): void {
    const name = Object.keys(body)[0] ?? '';
    const target = body[name] as unknown;
    let key = typeof target === 'string' ? `${name} ${target}` : name;
    if (!this.commandCounts.has(key) && this.commandCounts.size >= 1000) key = 'other';
    this.commandCounts.set(key, (this.commandCounts.get(key) ?? 0) + 1);
  }

  private encode(opCode: number, requestId: number, reply: Document): Buffer {
    return opCode === OP_QUERY ? encodeReply(requestId, reply) : encodeMsg(requestId, reply);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const closing = [this.server, this.tcpServer].map(
      (server) =>
        new Promise<void>((resolve) => {
          if (!server?.listening) return resolve();
          server.close(() => resolve());
        }),
    );
    await Promise.all(closing);
  }
}
