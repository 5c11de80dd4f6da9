import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { makePrivateDirSync } from './lib/private-dir.js';
import { SECTORS, type Sector } from './organisations/organisation.model.js';

/**
 * Every setting Tsunagu reads from the environment, validated once at start-up. Nothing else in
 * the app reads process.env. Each key is documented here and in the README.
 */
const envSchema = z.object({
  /** development | production | test. production turns on secure cookies and hides error details. */
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  /** TCP port the web server listens on. */
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /**
   * Address the web server binds to. Defaults to 127.0.0.1 (loopback) when TRUST_PROXY is set, so
   * that only the proxy on this machine reaches the app and no client can send it a forged
   * X-Forwarded-For directly; otherwise to 0.0.0.0 (every interface). Set it to the address the
   * proxy connects to when the proxy runs on another machine.
   */
  HOST: z.string().min(1).optional(),
  /**
   * Which reverse proxies to believe about the client's address (X-Forwarded-For) and protocol
   * (X-Forwarded-Proto). Unset or `false`: none, the address is the connection's. A number: that
   * many proxies in front of the app (hop count). Otherwise a comma-separated list of proxy
   * addresses or subnets, as Express's "trust proxy" setting takes them: `loopback`,
   * `uniquelocal`, `linklocal`, `10.0.0.5`, `10.0.0.0/8`, `fd00::/8`. `true` (believe any client)
   * is refused. Sign-in throttling by address and the audit log use the address derived this way.
   */
  TRUST_PROXY: z
    .string()
    .optional()
    .transform((value, ctx): TrustProxy => {
      const parsed = parseTrustProxy(value);
      if (typeof parsed === 'object' && 'problem' in parsed) {
        ctx.addIssue({ code: 'custom', message: parsed.problem });
        return z.NEVER;
      }
      return parsed;
    }),
  /**
   * Runtime data: the embedded store's files and socket, the generated session secret, the mail
   * outbox. Made 0700 at start (files in it 0600): only the account running Tsunagu may enter.
   */
  DATA_DIR: z.string().min(1).default('./data'),
  /**
   * A MongoDB connection string (replica set or Atlas), or the one `npm run db` prints for the
   * embedded store it runs (a Unix socket). When unset, Tsunagu starts its embedded
   * MongoDB-compatible store in DATA_DIR/store.
   */
  MONGODB_URI: z
    .string()
    .regex(/^mongodb(\+srv)?:\/\//, 'mongodb:// または mongodb+srv:// で始まる接続文字列')
    .optional(),
  /** Durability policy of the embedded store: always (fsync before acknowledging), batch, never. */
  STORE_FSYNC: z.enum(['always', 'batch', 'never']).default('always'),
  /**
   * `true` (the default): run the embedded store in a worker thread of the app process, its work
   * on a core beside the event loop that answers pages (bench:load on 2 cores, built app: p95
   * 375–447 ms against 525–874 ms in the app's thread). `false`: in the app's own thread. No
   * effect with MONGODB_URI.
   */
  STORE_THREAD: z.enum(['true', 'false']).default('true'),
  /**
   * Keep sessions, signed-in users and progress in memory between requests, coherent through a
   * change stream (src/cache). `false` reads them from the database on every request.
   */
  READ_CACHES: z.enum(['true', 'false']).default('true'),
  /**
   * Secret that signs session cookies; at least 32 characters. Generated and kept in
   * DATA_DIR/session-secret when unset, except in production, where it must be set.
   */
  SESSION_SECRET: z.string().min(32, '32文字以上が必要です').optional(),
  /** Public base URL, used in links sent by mail and printed on certificates. */
  BASE_URL: z.string().url().optional(),
  /** Folder holding the training programs. */
  COURSES_DIR: z.string().min(1).default('./courses'),
  /**
   * The privacy notice (個人情報の取扱い) shown at /privacy: a Markdown file with a `version:` in its
   * front matter, recorded with each person's consent at registration and invitation acceptance.
   */
  PRIVACY_NOTICE_FILE: z.string().min(1).default('./courses/privacy.md'),
  /**
   * Outgoing mail server, e.g. smtps://user:pass@mail.example.jp:465 or smtp://relay.local:25.
   * When unset, every message is written to DATA_DIR/outbox as an .eml file and listed for
   * administrators at /admin/outbox (nothing is dropped).
   */
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\//, 'smtp:// または smtps:// で始まるURL')
    .optional(),
  /** Sender of every message Tsunagu sends: an address, optionally with a display name. */
  MAIL_FROM: z
    .string()
    .min(3)
    .default('つなぐ（長野県ひきこもり支援センター） <no-reply@tsunagu.local>'),
  /**
   * E-mail address of the first administrator, created on the first start of an empty database.
   * When unset, admin@tsunagu.local is used.
   */
  ADMIN_EMAIL: z.string().email('メールアドレスの形式で指定してください').optional(),
  /**
   * Password of that first administrator (10 characters or more). When unset, one is generated
   * and printed once on the console.
   */
  ADMIN_PASSWORD: z.string().min(10, '10文字以上が必要です').optional(),
  /**
   * Demo mode: adds users of every role in 長野市 and 松本市 with a known password (see README)
   * and prints them at start. Never in production use.
   */
  DEMO: z.enum(['true', 'false']).default('false'),
  /** Largest file a trainee may attach to a case study, in MB. */
  CASE_ATTACHMENT_MAX_MB: z.coerce.number().int().min(1).max(100).default(10),
  /** How many files a case study may carry at once. */
  CASE_ATTACHMENT_MAX_FILES: z.coerce.number().int().min(0).max(20).default(5),
  /**
   * Days after a case study's approval when its attachments (not its text) are deleted. Unset:
   * kept. The server checks hourly and records each deletion in the audit log.
   */
  CASE_FILE_RETENTION_DAYS: z.coerce.number().int().min(1).optional(),
  /**
   * Days a submitted case study may wait for its supervisor's decision before the review queue
   * and the administrators' list mark it overdue.
   */
  REVIEW_OVERDUE_DAYS: z.coerce.number().int().min(1).max(365).default(14),
  /**
   * The center's contact shown in every page's footer, as one line of text (e.g.
   * 「電話 026-000-0000（平日 8:30〜17:15）・メール info@example.jp」). Unset: no contact line.
   */
  CENTER_CONTACT: z.string().trim().min(1).max(200).optional(),
  /**
   * Days without learning activity after which a registered person who is not yet certified is
   * listed as stalled on the municipality report (/reports), with a link to remind them by mail.
   */
  STALLED_AFTER_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  /**
   * Counts of people below this number (but above zero) are shown as 「N未満」 in every report and
   * export seen outside the center (administrators see exact figures). 1 turns suppression off.
   */
  SMALL_COUNT_THRESHOLD: z.coerce.number().int().min(1).max(100).default(3),
  /**
   * Sectors (comma-separated, as in the organisation form) in each of which a municipality should
   * have at least one certified person; the prefecture report lists municipalities short of it.
   */
  COVERAGE_TARGET: z
    .string()
    .default('福祉,教育,保健・医療')
    .transform((value, ctx) => {
      const sectors = [
        ...new Set(
          value
            .split(',')
            .map((part) => part.trim())
            .filter(Boolean),
        ),
      ];
      const unknown = sectors.filter((sector) => !(SECTORS as readonly string[]).includes(sector));
      if (sectors.length === 0 || unknown.length > 0) {
        ctx.addIssue({
          code: 'custom',
          message: `分野は ${SECTORS.join('、')} から選んでください`,
        });
        return z.NEVER;
      }
      return sectors as Sector[];
    }),
  /**
   * Bearer token that opens /metrics (Prometheus) from anywhere: `Authorization: Bearer <token>`,
   * 32 characters or more. Unset: /metrics answers only direct requests from this machine
   * (loopback, and only when TRUST_PROXY is unset).
   */
  METRICS_TOKEN: z.string().min(32, '32文字以上が必要です').optional(),
  /**
   * Folder for the daily scheduled backups (made 0700 if missing). Unset: no scheduled backups.
   * One app process among all those sharing the database takes each backup (a lock in the
   * database decides), into its own machine's BACKUP_DIR; see docs/deploy.md.
   */
  BACKUP_DIR: z.string().min(1).optional(),
  /** How many scheduled backups to keep in BACKUP_DIR; the oldest beyond this are deleted. */
  BACKUP_KEEP: z.coerce.number().int().min(1).max(1000).default(14),
  /** Time of day of the scheduled backup, HH:MM in Japan time (Asia/Tokyo), whatever TZ says. */
  BACKUP_AT: z
    .string()
    .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:MM の形式（00:00〜23:59、例: 02:30）で指定してください')
    .default('02:30'),
  /** Log level: fatal, error, warn, info, debug, trace, silent. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Pretty, human-readable logs (development). Defaults to on outside production. */
  LOG_PRETTY: z.enum(['true', 'false']).optional(),
});

/** Express's "trust proxy": false (none), a hop count, or proxy addresses and subnets. */
export type TrustProxy = false | number | string[];

const NAMED_SUBNETS = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** An IPv4 or IPv6 address, optionally with a prefix length (10.0.0.0/8, fd00::/8). */
function isAddressOrSubnet(entry: string): boolean {
  const [address, prefix, ...rest] = entry.split('/');
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (version === 4 ? 32 : 128);
}

/** TRUST_PROXY as Express takes it, or the problem with it. */
export function parseTrustProxy(value: string | undefined): TrustProxy | { problem: string } {
  const text = value?.trim() ?? '';
  if (text === '' || text === 'false') return false;
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    if (hops > 10) return { problem: 'プロキシの段数は 0〜10 で指定してください' };
    return hops === 0 ? false : hops;
  }
  if (text === 'true') {
    return {
      problem:
        'true（すべてを信頼）は指定できません。プロキシの段数かアドレス（例: loopback, 10.0.0.5）を指定してください',
    };
  }
  const entries = text.split(',').map((entry) => entry.trim());
  const bad = entries.filter((entry) => !NAMED_SUBNETS.has(entry) && !isAddressOrSubnet(entry));
  if (bad.length > 0) {
    return {
      problem: `プロキシのアドレスとして読めません: ${bad.map((entry) => JSON.stringify(entry)).join(', ')}（false、段数、または loopback / 10.0.0.5 / 10.0.0.0/8 のようなアドレスをカンマ区切りで）`,
    };
  }
  return entries;
}

export type Env = z.infer<typeof envSchema>;

export interface Config {
  env: Env['NODE_ENV'];
  isProduction: boolean;
  port: number;
  /** Bind address (HOST, or its default from TRUST_PROXY). */
  host: string;
  /** Express's "trust proxy" (TRUST_PROXY). */
  trustProxy: TrustProxy;
  dataDir: string;
  mongodbUri: string | undefined;
  storeFsync: Env['STORE_FSYNC'];
  storeThread: boolean;
  readCaches: boolean;
  sessionSecret: string;
  baseUrl: string;
  coursesDir: string;
  log: { level: string; pretty: boolean };
  /** METRICS_TOKEN: the bearer token of /metrics, or undefined (loopback only). */
  metrics: { token: string | undefined };
  mail: { smtpUrl: string | undefined; from: string };
  /** First administrator from the environment (first start only). */
  admin: { email: string | undefined; password: string | undefined };
  demo: boolean;
  caseStudies: {
    attachmentMaxBytes: number;
    attachmentMaxFiles: number;
    /** Undefined: attachments are kept. */
    fileRetentionDays: number | undefined;
  };
  review: {
    /** REVIEW_OVERDUE_DAYS. */
    overdueDays: number;
  };
  /** PRIVACY_NOTICE_FILE, resolved. */
  privacyNoticeFile: string;
  /** CENTER_CONTACT: the footer's contact line, or null. */
  centerContact: string | null;
  tracking: {
    /** STALLED_AFTER_DAYS. */
    stalledAfterDays: number;
    /** SMALL_COUNT_THRESHOLD: counts 1 … threshold−1 are suppressed outside the center. */
    smallCountThreshold: number;
    /** COVERAGE_TARGET: sectors each municipality should have a certified person in. */
    coverageTarget: Sector[];
  };
  backup: {
    /** BACKUP_DIR, resolved; null: no scheduled backups. */
    dir: string | null;
    /** BACKUP_KEEP. */
    keep: number;
    /** BACKUP_AT, Japan time. */
    at: { hour: number; minute: number };
  };
}

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(
      `設定に誤りがあります (invalid configuration):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

/** Parses and checks the environment. Throws ConfigError listing every bad variable at once. */
export function parseEnv(source: NodeJS.ProcessEnv): Env {
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== ''));
  const result = envSchema.safeParse(cleaned);
  const problems: string[] = [];
  if (!result.success) {
    for (const issue of result.error.issues) {
      problems.push(`${issue.path.join('.')}: ${issue.message}`);
    }
  } else if (result.data.NODE_ENV === 'production' && !result.data.SESSION_SECRET) {
    problems.push('SESSION_SECRET: 本番環境 (NODE_ENV=production) では必須です');
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  return result.data;
}

/** Reads the session secret kept in DATA_DIR, creating it on first run. */
function persistedSessionSecret(dataDir: string): string {
  const file = path.join(dataDir, 'session-secret');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  makePrivateDirSync(dataDir);
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(file, secret + '\n', { mode: 0o600, flag: 'wx' });
  return secret;
}

export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const env = parseEnv(source);
  const dataDir = path.resolve(env.DATA_DIR);
  return {
    env: env.NODE_ENV,
    isProduction: env.NODE_ENV === 'production',
    port: env.PORT,
    host: env.HOST ?? (env.TRUST_PROXY === false ? '0.0.0.0' : '127.0.0.1'),
    trustProxy: env.TRUST_PROXY,
    dataDir,
    mongodbUri: env.MONGODB_URI,
    storeFsync: env.STORE_FSYNC,
    storeThread: env.STORE_THREAD === 'true',
    readCaches: env.READ_CACHES === 'true',
    sessionSecret: env.SESSION_SECRET ?? persistedSessionSecret(dataDir),
    baseUrl: (env.BASE_URL ?? `http://localhost:${env.PORT}`).replace(/\/$/, ''),
    coursesDir: path.resolve(env.COURSES_DIR),
    privacyNoticeFile: path.resolve(env.PRIVACY_NOTICE_FILE),
    log: {
      level: env.LOG_LEVEL,
      pretty: env.LOG_PRETTY ? env.LOG_PRETTY === 'true' : env.NODE_ENV === 'development',
    },
    mail: { smtpUrl: env.SMTP_URL, from: env.MAIL_FROM },
    metrics: { token: env.METRICS_TOKEN },
    admin: { email: env.ADMIN_EMAIL, password: env.ADMIN_PASSWORD },
    demo: env.DEMO === 'true',
    caseStudies: {
      attachmentMaxBytes: env.CASE_ATTACHMENT_MAX_MB * 1024 * 1024,
      attachmentMaxFiles: env.CASE_ATTACHMENT_MAX_FILES,
      fileRetentionDays: env.CASE_FILE_RETENTION_DAYS,
    },
    review: { overdueDays: env.REVIEW_OVERDUE_DAYS },
    centerContact: env.CENTER_CONTACT ?? null,
    tracking: {
      stalledAfterDays: env.STALLED_AFTER_DAYS,
      smallCountThreshold: env.SMALL_COUNT_THRESHOLD,
      coverageTarget: env.COVERAGE_TARGET,
    },
    backup: {
      dir: env.BACKUP_DIR ? path.resolve(env.BACKUP_DIR) : null,
      keep: env.BACKUP_KEEP,
      at: { hour: Number(env.BACKUP_AT.slice(0, 2)), minute: Number(env.BACKUP_AT.slice(3)) },
    },
  };
}
