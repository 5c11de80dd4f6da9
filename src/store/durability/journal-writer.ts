import { diskError } from './files.js';
import { encodeFrame } from './frames.js';

export type FsyncPolicy = 'always' | 'batch' | 'never';

/** The part of a FileHandle the writer uses (tests wrap it to inject disk errors). */
export interface JournalFile {
  write(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

interface PendingBatch {
  payloads: Uint8Array[];
  records: number;
  resolve(): void;
  reject(error: Error): void;
}

/** One write (and fsync) never carries more than this, so frames stay reasonably small. */
const MAX_GROUP_BYTES = 16 << 20;
export const BATCH_SYNC_INTERVAL_MS = 50;

/**
 * Appends frames to one journal file with group commit: while a write + fsync is in flight,
 * new batches queue up; the next cycle writes all of them as ONE frame and one fsync covers them.
 * A frame is replayed whole or not at all, and no caller is told "durable" before its frame's
 * fsync returned (policy 'always'), so the group is never half-acknowledged.
 */
export class JournalWriter {
  /** Bytes in the file, counting only complete writes. */
  size = 0;
  records = 0;
  private handle: JournalFile | null = null;
  private readonly queue: PendingBatch[] = [];
  private running: Promise<void> | null = null;
  private failure: Error | null = null;
  private unsynced = false;
  private syncTimer: NodeJS.Timeout | null = null;
  private syncing: Promise<void> | null = null;

  constructor(
    readonly file: string,
    private readonly opened: Promise<{ handle: JournalFile; size: number }>,
    private readonly policy: FsyncPolicy,
    private readonly onFailure: (error: Error) => void,
  ) {
    // A failure is reported through the queued appends and onFailure, not here.
    opened.then(
      ({ size }) => {
        if (!this.handle) this.size = size;
      },
      () => undefined,
    );
  }

  append(payloads: Uint8Array[], records: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.queue.push({ payloads, records, resolve, reject });
      this.kick();
    });
  }

  /** Resolves once the file is open (and, for a new journal, created durably). */
  async ready(): Promise<void> {
    await this.opened;
  }

  /** Waits until everything queued is written, then fsyncs whatever the policy left unsynced. */
  async flush(): Promise<void> {
    while (this.running) await this.running;
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = null;
    if (this.syncing) await this.syncing;
    if (this.handle && this.unsynced && !this.failure) await this.sync();
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      // Stryker disable next-line ArrowFunction: null or undefined, handle?.close() skips both
      const handle = this.handle ?? (await this.opened.then((o) => o.handle).catch(() => null));
      this.handle = null;
      await handle?.close().catch(() => undefined);
    }
  }

  private kick(): void {
    if (this.running) return;
    this.running = this.run().finally(() => {
      this.running = null;
      if (this.queue.length > 0 && !this.failure) this.kick();
    });
  }

  private async run(): Promise<void> {
    if (!this.handle) {
      try {
        const { handle, size } = await this.opened;
        this.handle = handle;
        this.size = size;
      } catch (error) {
        this.fail(error instanceof Error ? error : new Error(String(error)));
        return;
      }
    }
    while (this.queue.length > 0 && !this.failure) {
      const group = this.takeGroup();
      const payloads = group.flatMap((b) => b.payloads);
      const records = group.reduce((n, b) => n + b.records, 0);
      const frame = encodeFrame(payloads, records);
      try {
        let written = 0;
        while (written < frame.length) {
          const { bytesWritten } = await this.handle.write(
            frame,
            written,
            frame.length - written,
            this.size + written,
          );
          if (bytesWritten === 0) throw new Error('the write made no progress');
          written += bytesWritten;
        }
        if (this.policy === 'always') await this.handle.datasync();
      } catch (error) {
        const failure = diskError('appending to the store journal', this.file, error);
        for (const batch of group) batch.reject(failure);
        this.fail(failure);
        // Best effort: cut the partial frame off now (replay would drop it anyway).
        await this.handle.truncate(this.size).catch(() => undefined);
        return;
      }
      this.size += frame.length;
      this.records += records;
      if (this.policy !== 'always') this.unsynced = true;
      if (this.policy === 'batch') this.scheduleSync();
      for (const batch of group) batch.resolve();
    }
  }

  private takeGroup(): PendingBatch[] {
    let bytes = 0;
    let count = 0;
    for (const batch of this.queue) {
      const size = batch.payloads.reduce((n, p) => n + p.byteLength, 0);
      if (count > 0 && bytes + size > MAX_GROUP_BYTES) break;
      bytes += size;
      count++;
    }
    return this.queue.splice(0, count);
  }

  private scheduleSync(): void {
    if (this.syncTimer) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = null;
      void this.sync();
    }, BATCH_SYNC_INTERVAL_MS);
    this.syncTimer.unref();
  }

  private sync(): Promise<void> {
    if (this.syncing || !this.handle) return this.syncing ?? Promise.resolve();
    const handle = this.handle;
    this.unsynced = false;
    this.syncing = handle
      .datasync()
      .catch((error) => this.fail(diskError('syncing the store journal', this.file, error)))
      .finally(() => {
        this.syncing = null;
      });
    return this.syncing;
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    for (const batch of this.queue.splice(0)) batch.reject(error);
    this.onFailure(error);
  }
}
