/**
 * Placeholder of the anonymisation guard (the real one lands from its own branch and replaces
 * this file): it finds phone numbers and 「漢字2–4文字＋さん」 only, enough to build the flow.
 */
export type IdentifierKind =
  | 'phone'
  | 'email'
  | 'postal-code'
  | 'address'
  | 'date'
  | 'age'
  | 'person-name'
  | 'municipality'
  | 'institution';

export interface IdentifierFinding {
  start: number;
  end: number;
  kind: IdentifierKind;
  text: string;
  suggestion: string;
}

const LABELS: Record<IdentifierKind, string> = {
  phone: '電話番号',
  email: 'メールアドレス',
  'postal-code': '郵便番号',
  address: '住所',
  date: '日付・生年月日',
  age: '正確な年齢',
  'person-name': '人名',
  municipality: '市町村名',
  institution: '学校・病院・会社などの名前',
};

const PATTERNS: { kind: IdentifierKind; pattern: RegExp; suggestion: string }[] = [
  {
    kind: 'phone',
    pattern: /[0０][0-9０-９]{1,4}[-－ー‐\s]?[0-9０-９]{1,4}[-－ー‐\s]?[0-9０-９]{3,4}/g,
    suggestion: '電話番号は書かないでください。',
  },
  {
    kind: 'person-name',
    pattern: /\p{Script=Han}{2,4}さん/gu,
    suggestion: '「Aさん」のような記号に置き換えてください。',
  },
];

export function findIdentifiers(text: string): Promise<IdentifierFinding[]> {
  const findings: IdentifierFinding[] = [];
  for (const { kind, pattern, suggestion } of PATTERNS) {
    for (const match of text.matchAll(pattern)) {
      const start = match.index;
      findings.push({ start, end: start + match[0].length, kind, text: match[0], suggestion });
    }
  }
  findings.sort((a, b) => a.start - b.start);
  return Promise.resolve(findings);
}

export function identifierKindLabel(kind: IdentifierKind): string {
  return LABELS[kind];
}
