import { ROLE_LABELS } from '../../users/roles.js';
import { PROFESSIONS } from '../../users/user.model.js';

/** The columns of an import file, in template order: header (Japanese) → field. */
export const IMPORT_COLUMNS = [
  { header: '氏名', field: 'name', required: true, note: '例：長野 花子（50文字以内）' },
  {
    header: 'ふりがな',
    field: 'nameKana',
    required: true,
    note: 'ひらがな・カタカナ（例：ながの はなこ）',
  },
  {
    header: 'メールアドレス',
    field: 'email',
    required: true,
    note: 'ログインに使います。1人1つ、重複はできません。',
  },
  {
    header: '市町村',
    field: 'municipality',
    required: true,
    note: '正式な名称（例：長野市、小海町、南相木村）',
  },
  {
    header: '所属機関',
    field: 'organisation',
    required: false,
    note: 'その市町村に登録済みの名称。空欄でも構いません。',
  },
  {
    header: '職種',
    field: 'profession',
    required: false,
    note: `次のいずれか：${PROFESSIONS.join('、')}`,
  },
  {
    header: '役割',
    field: 'roles',
    required: false,
    note: `空欄は「受講者」。複数は「、」で区切ります（${[ROLE_LABELS.trainee, ROLE_LABELS.supervisor, ROLE_LABELS.coordinator, ROLE_LABELS.regional_viewer].join('、')}）`,
  },
] as const;

export type ImportField = (typeof IMPORT_COLUMNS)[number]['field'];
export type RawRow = Record<ImportField, string>;

/** Most rows one file may hold; larger rosters are split into several files. */
export const MAX_IMPORT_ROWS = 1000;

/**
 * Most characters in one cell. Far above any real name, address or organisation, low enough that
 * a file of hostile cells stays small once checked and kept as a preview.
 */
export const MAX_CELL_CHARACTERS = 1000;

/** The template offered for download: header line and one example row, UTF-8 with a BOM for Excel. */
export function templateCsv(): string {
  const header = IMPORT_COLUMNS.map((column) => column.header).join(',');
  const example = [
    '長野 花子',
    'ながの はなこ',
    'hanako.nagano@example.jp',
    '長野市',
    '',
    '保健師',
    '受講者',
  ].join(',');
  return `\ufeff${header}\r\n${example}\r\n`;
}
