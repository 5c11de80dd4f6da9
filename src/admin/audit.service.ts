import mongoose, { Types } from 'mongoose';
import { AUDIT_ACTIONS, AUDIT_ACTION_LABELS, AuditEvent } from '../audit/audit.model.js';
import type { Geography } from '../organisations/geography.js';
import { Organisation } from '../organisations/organisation.model.js';
import { Invitation } from '../users/invitation.model.js';
import { isRole, ROLE_LABELS } from '../users/roles.js';
import { User, USER_STATUS_LABELS, USER_STATUSES, type UserStatus } from '../users/user.model.js';
import { formatDateTime } from '../lib/dates.js';
import { literalPattern } from '../lib/forms.js';
import { PAGE_SIZE, pageOf, skipFor, type Page } from './paging.js';

export interface AuditFilters {
  action: string;
  actor: string;
  from: string;
  to: string;
}

export interface AuditRow {
  id: string;
  at: Date;
  action: string;
  actionLabel: string;
  actorName: string;
  targetLabel: string;
  municipalityName: string;
  ip: string;
  details: string;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Start of a calendar day in Japan time; null for anything that is not a real date. */
export function startOfJapanDay(value: string): Date | null {
  if (!DATE.test(value)) return null;
  const date = new Date(`${value}T00:00:00+09:00`);
  if (Number.isNaN(date.getTime())) return null;
  // Reject 2026-02-31 and the like, which Date quietly rolls over.
  const roundTrip = new Date(date.getTime() + 9 * 3600_000).toISOString().slice(0, 10);
  return roundTrip === value ? date : null;
}

/** Field errors for the filter form (dates), in Japanese. */
export function auditFilterErrors(filters: AuditFilters): Record<string, string> {
  const errors: Record<string, string> = {};
  const from = filters.from ? startOfJapanDay(filters.from) : undefined;
  const to = filters.to ? startOfJapanDay(filters.to) : undefined;
  if (from === null) errors.from = '日付は 2026-04-01 の形式で入力してください。';
  if (to === null) errors.to = '日付は 2026-04-01 の形式で入力してください。';
  if (from && to && from > to) errors.to = '終了日は開始日以降の日付を入力してください。';
  if (filters.action && !(AUDIT_ACTIONS as readonly string[]).includes(filters.action)) {
    errors.action = '操作の種類を一覧から選択してください。';
  }
  return errors;
}

/** Audit events, newest first, filtered by action, actor (name or address) and date range (JST days). */
export async function listAuditEvents(
  filters: AuditFilters,
  geography: Geography,
  page: number,
): Promise<Page<AuditRow>> {
  const filter: Record<string, unknown> = {};
  if ((AUDIT_ACTIONS as readonly string[]).includes(filters.action))
    filter.action = { $eq: filters.action };
  const range: Record<string, Date> = {};
  const from = filters.from ? startOfJapanDay(filters.from) : null;
  const to = filters.to ? startOfJapanDay(filters.to) : null;
  if (from) range.$gte = from;
  if (to) range.$lt = new Date(to.getTime() + 24 * 3600_000);
  if (Object.keys(range).length > 0) filter.at = mongoose.trusted(range);
  if (filters.actor) {
    const pattern = literalPattern(filters.actor);
    const actors = await User.find(
      {
        $or: [
          { name: mongoose.trusted({ $regex: pattern }) },
          { email: mongoose.trusted({ $regex: pattern }) },
        ],
      },
      { _id: 1 },
    )
      .limit(500)
      .lean();
    filter.actorId = mongoose.trusted({ $in: actors.map((actor) => actor._id) });
  }

  const [events, total] = await Promise.all([
    AuditEvent.find(filter).sort({ at: -1, _id: -1 }).skip(skipFor(page)).limit(PAGE_SIZE).lean(),
    AuditEvent.countDocuments(filter),
  ]);

  const userIds = new Set<string>();
  const organisationIds = new Set<string>();
  const invitationIds = new Set<string>();
  for (const event of events) {
    if (event.actorId) userIds.add(String(event.actorId));
    if (event.targetId && event.targetType === 'User') userIds.add(String(event.targetId));
    if (event.targetId && event.targetType === 'Organisation')
      organisationIds.add(String(event.targetId));
    if (event.targetId && event.targetType === 'Invitation')
      invitationIds.add(String(event.targetId));
  }
  const [users, organisations, invitations] = await Promise.all([
    userIds.size
      ? User.find(
          { _id: mongoose.trusted({ $in: [...userIds].map((id) => new Types.ObjectId(id)) }) },
          { name: 1 },
        ).lean()
      : [],
    organisationIds.size
      ? Organisation.find(
          {
            _id: mongoose.trusted({
              $in: [...organisationIds].map((id) => new Types.ObjectId(id)),
            }),
          },
          { name: 1 },
        ).lean()
      : [],
    invitationIds.size
      ? Invitation.find(
          {
            _id: mongoose.trusted({ $in: [...invitationIds].map((id) => new Types.ObjectId(id)) }),
          },
          { email: 1, roles: 1, prefill: 1 },
        ).lean()
      : [],
  ]);
  const names = new Map<string, string>([
    // 「招待：山田 花子（受講者）」: the name the inviter gave, else the address.
    ...invitations.map(
      (invitation) =>
        [
          String(invitation._id),
          `${invitation.prefill?.name || invitation.email}（${invitation.roles.map((role) => ROLE_LABELS[role]).join('、')}）`,
        ] as [string, string],
    ),
    ...users.map((user) => [String(user._id), user.name] as [string, string]),
    ...organisations.map(
      (organisation) => [String(organisation._id), organisation.name] as [string, string],
    ),
  ]);

  const rows = events.map((event) => ({
    id: String(event._id),
    at: event.at,
    action: event.action,
    actionLabel: AUDIT_ACTION_LABELS[event.action] ?? event.action,
    actorName: event.actorId ? (names.get(String(event.actorId)) ?? '（不明な利用者）') : '—',
    targetLabel: targetLabel(
      event.targetType ?? null,
      event.targetId ? String(event.targetId) : null,
      names,
    ),
    municipalityName: event.municipalityId
      ? (geography.byId.get(String(event.municipalityId))?.name ?? '')
      : '',
    ip: event.ip ?? '',
    details: formatDetails(event.details, event.action),
  }));
  return pageOf(rows, total, page);
}

function targetLabel(type: string | null, id: string | null, names: Map<string, string>): string {
  if (!type || !id) return '';
  const kind =
    type === 'User'
      ? '利用者'
      : type === 'Organisation'
        ? '所属機関'
        : type === 'ImportBatch'
          ? '一括登録'
          : type === 'Invitation'
            ? '招待'
            : type === 'CaseStudy'
              ? '事例検討レポート'
              : type;
  const name = names.get(id);
  return name ? `${kind}：${name}` : kind;
}

const DETAIL_LABELS: Record<string, string> = {
  before: '変更前',
  after: '変更後',
  previousStatus: '変更前の状態',
  status: '変更後の状態',
  count: '回数',
  lastAt: '最後',
  limit: '制限',
  roles: '役割',
  rows: '行数',
  invitations: '招待',
  organisationsCreated: '新しい所属機関',
  encoding: '文字コード',
  name: '名称',
  sector: '分野',
  nameKana: 'ふりがな',
  municipality: '市町村',
  organisation: '所属機関',
  profession: '職種',
  reason: '理由',
  known: '登録済みのアドレス',
  mailed: 'メールの送信',
  round: '回',
  decision: '結果',
  version: '版',
  regions: '圏域の数',
  files: 'ファイル数',
  retentionDays: '保存日数',
  program: '研修',
  from: '変更前',
  to: '変更後',
};

/** Values that are codes, said in words. */
const VALUE_LABELS: Record<string, string> = {
  invalid: 'パスワードまたはメールアドレスの誤り',
  approved: '承認',
  revision_requested: '修正の依頼',
  'utf-8': 'UTF-8',
  shift_jis: 'Shift_JIS',
};

/** Internal codes kept in the record but not shown: ids, hashes. */
const isInternalKey = (key: string) => /(Id|Ids|Hash)$/.test(key);
const isInternalValue = (value: unknown) =>
  typeof value === 'string' && /^(?:[0-9a-f]{24}|[0-9a-f]{64})$/.test(value);

function formatValue(value: unknown, labels: Record<string, string>): string {
  if (Array.isArray(value)) return value.map((item) => formatValue(item, labels)).join('、');
  if (typeof value === 'boolean') return value ? 'はい' : 'いいえ';
  if (value === null || value === '') return '（なし）';
  if (typeof value === 'string') {
    if (isRole(value)) return ROLE_LABELS[value];
    if ((USER_STATUSES as readonly string[]).includes(value))
      return USER_STATUS_LABELS[value as UserStatus];
    return VALUE_LABELS[value] ?? value;
  }
  if (value instanceof Date) {
    return formatDateTime(value, { seconds: true });
  }
  if (value && typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>)
      .filter(([key, inner]) => !isInternalKey(key) && !isInternalValue(inner))
      .map(([key, inner]) => `${labels[key] ?? key} ${formatValue(inner, labels)}`)
      .join('、');
  }
  return typeof value === 'number' || typeof value === 'bigint' ? String(value) : '';
}

/** The small facts of an event, readable: 「変更前：受講者 / 変更後：受講者、スーパーバイザー」. */
export function formatDetails(details: unknown, action = ''): string {
  if (!details || typeof details !== 'object') return '';
  // A person's name is 氏名; an organisation's, 名称.
  const labels = action.startsWith('user.') ? { ...DETAIL_LABELS, name: '氏名' } : DETAIL_LABELS;
  return Object.entries(details as Record<string, unknown>)
    .filter(([key, value]) => !isInternalKey(key) && !isInternalValue(value))
    .map(([key, value]) => `${labels[key] ?? key}：${formatValue(value, labels)}`)
    .join(' / ');
}
