import { can } from '../../auth/policy.js';
import type { SessionUser } from '../../auth/session-user.js';
import type { Geography } from '../../organisations/geography.js';
import { ROLE_LABELS, ROLES, type Role } from '../../users/roles.js';
import { exceedsCharacters } from '../../lib/text.js';
import { ORGANISATION_NAME_MAX } from '../../organisations/organisation.model.js';
import { NAME_MAX, PROFESSIONS, type Profession } from '../../users/user.model.js';
import type { ImportField, RawRow } from './columns.js';

export interface RowError {
  field: ImportField;
  message: string;
}

/** One row of an import, as checked: the typed values, what they resolve to, and the problems. */
export interface CheckedRow {
  line: number;
  values: RawRow;
  email: string;
  municipalityId: string | null;
  regionId: string | null;
  organisationId: string | null;
  /** Name of an organisation that will be created on confirmation (administrators only). */
  newOrganisation: string | null;
  profession: Profession | null;
  roles: Role[];
  errors: RowError[];
  notes: string[];
}

export interface CheckContext {
  actor: SessionUser;
  geography: Geography;
  /** municipalityId → organisation name → organisation id. */
  organisations: Map<string, Map<string, string>>;
  /** Lowercased addresses that already have an account. */
  takenEmails: Set<string>;
  /** Lowercased addresses with an open (unused, unexpired) invitation the importer may manage. */
  invitedEmails: Set<string>;
  /** Lowercased addresses with an open invitation from outside the importer's scope. */
  unavailableEmails: Set<string>;
}

const EMAIL = /^[^\s@"<>(),;:]+@[^\s@"<>(),;:]+\.[^\s@"<>(),;:]+$/;
const KANA = /^[\p{Script=Hiragana}\p{Script=Katakana}ー・ \u3000]+$/u;
const ROLE_SEPARATORS = /[、,，・/／\s\u3000]+/;
const ROLE_BY_TEXT = new Map<string, Role>([
  ...ROLES.map((role) => [role, role] as [string, Role]),
  ...ROLES.map((role) => [ROLE_LABELS[role], role] as [string, Role]),
]);

/** Full-width letters, digits and @ from Excel become ASCII; surrounding spaces go. */
const normalise = (value: string) => value.normalize('NFKC').trim();

/** Checks every row against the reference data, the database and the other rows of the file. */
export function checkRows(
  rows: { line: number; values: RawRow }[],
  context: CheckContext,
): CheckedRow[] {
  const { actor, geography } = context;
  const isAdmin = actor.roles.includes('admin');
  const firstLineOfEmail = new Map<string, number>();

  return rows.map(({ line, values }) => {
    const errors: RowError[] = [];
    const notes: string[] = [];
    // One message per field: a cell listing a thousand unknown roles gets one, not a thousand.
    const add = (field: ImportField, message: string) => {
      if (!errors.some((error) => error.field === field)) errors.push({ field, message });
    };

    const name = values.name;
    if (!name) add('name', '氏名を入力してください。');
    else if (exceedsCharacters(name, NAME_MAX))
      add('name', `氏名は${NAME_MAX}文字以内で入力してください。`);

    const nameKana = values.nameKana;
    if (!nameKana) add('nameKana', 'ふりがなを入力してください。');
    else if (exceedsCharacters(nameKana, NAME_MAX))
      add('nameKana', `ふりがなは${NAME_MAX}文字以内で入力してください。`);
    else if (!KANA.test(nameKana))
      add('nameKana', 'ふりがなは、ひらがなまたはカタカナで入力してください。');

    const email = normalise(values.email).toLowerCase();
    if (!email) add('email', 'メールアドレスを入力してください。');
    else if (email.length > 254 || !EMAIL.test(email))
      add('email', 'メールアドレスの形式が正しくありません。');
    else if (firstLineOfEmail.has(email)) {
      add('email', `このファイルの${firstLineOfEmail.get(email)}行目と同じメールアドレスです。`);
    } else {
      firstLineOfEmail.set(email, line);
      if (context.takenEmails.has(email))
        add('email', 'このメールアドレスはすでに登録されています。');
      else if (context.invitedEmails.has(email)) {
        add('email', 'このメールアドレスには招待を送信済みです（まだ登録されていません）。');
      } else if (context.unavailableEmails.has(email)) {
        // Someone else's invitation: say no more than that this address cannot be used.
        add(
          'email',
          'このメールアドレスには、いま招待を送ることができません。センターにお問い合わせください。',
        );
      }
    }

    const municipalityName = normalise(values.municipality);
    const place = municipalityName ? geography.byName.get(municipalityName) : undefined;
    if (!municipalityName) add('municipality', '市町村を入力してください。');
    else if (!place) {
      add(
        'municipality',
        `「${municipalityName}」という市町村は見つかりません。「長野市」「小海町」のように正式な名称で入力してください。`,
      );
    } else if (!can(actor, 'user.import', { municipalityId: place.id })) {
      add('municipality', 'ご自身の市町村以外の利用者は登録できません。');
    }

    let organisationId: string | null = null;
    let newOrganisation: string | null = null;
    const organisationName = normalise(values.organisation);
    if (organisationName && place) {
      const known = context.organisations.get(place.id)?.get(organisationName);
      if (known) organisationId = known;
      else if (exceedsCharacters(organisationName, ORGANISATION_NAME_MAX))
        add('organisation', `所属機関の名称は${ORGANISATION_NAME_MAX}文字以内で入力してください。`);
      else if (isAdmin) {
        newOrganisation = organisationName;
        notes.push(
          `所属機関「${organisationName}」は${place.name}に未登録のため、新しく登録します（分野は「その他」。後から変更できます）。`,
        );
      } else {
        add(
          'organisation',
          `所属機関「${organisationName}」は${place.name}に登録されていません。空欄にするか、センターに登録を依頼してください。`,
        );
      }
    }

    let profession: Profession | null = null;
    const professionText = normalise(values.profession);
    if (professionText) {
      if ((PROFESSIONS as readonly string[]).includes(professionText))
        profession = professionText as Profession;
      else
        add(
          'profession',
          `職種「${professionText}」は選べません。次のいずれかで入力してください：${PROFESSIONS.join('、')}`,
        );
    }

    // Stryker disable next-line ArrayDeclaration: the roles returned are ROLES filtered by this list, so a stray entry cannot get out.
    const roles: Role[] = [];
    const roleTexts = normalise(values.roles).split(ROLE_SEPARATORS).filter(Boolean);
    for (const text of roleTexts) {
      const role = ROLE_BY_TEXT.get(text);
      if (!role)
        add(
          'roles',
          `役割「${text}」は選べません。受講者、スーパーバイザー、市町村担当者、圏域担当のいずれかで入力してください。`,
        );
      else if (role === 'admin') add('roles', 'センター管理者の役割は一括登録では付けられません。');
      else if (!isAdmin && role !== 'trainee')
        add('roles', '市町村担当者が登録できる役割は「受講者」のみです。');
      // A role listed twice comes back once: the result is ROLES filtered by this list.
      else roles.push(role);
    }
    if (roleTexts.length === 0) roles.push('trainee');

    return {
      line,
      values,
      email,
      municipalityId: place?.id ?? null,
      regionId: place?.regionId ?? null,
      organisationId,
      newOrganisation,
      profession,
      roles: ROLES.filter((role) => roles.includes(role)),
      errors,
      notes,
    };
  });
}
