import type { IdentifierKind } from './anonymisation.js';

/** What the trainee sees for each kind of finding: the kind's name and how to rewrite it. */
export const KIND_LABELS: Record<IdentifierKind, string> = {
  phone: '電話番号',
  email: 'メールアドレス',
  'postal-code': '郵便番号',
  address: '住所',
  date: '日付',
  age: '年齢',
  'person-name': '人名',
  municipality: '市町村名',
  institution: '学校・病院・会社などの名前',
};

/**
 * The suggestions, worded after the anonymisation rules in courses/basic-training/case-study.md
 * so that the guard says what the instructions say. Dates follow the one rule of the case-study
 * report: a year with a season or part of the year, school stages and periods since support began
 * are fine; month-and-day dates, birth dates and exact ages are not.
 */
export const SUGGESTIONS = {
  phone: '電話番号は書かないでください。',
  email: 'メールアドレスは書かないでください。',
  postalCode: '郵便番号は書かないでください。',
  address: '住所は書かないでください。「住宅地の一戸建て」のように一般的な表現にしてください。',
  date: '月日まで分かる日付は書かないでください。「2018年冬」「2019年春ごろ」のような年と季節、または「支援開始から3か月」のような期間で示してください。',
  birth: '生年月日や生まれ年は書かないでください。年代（例：20歳代前半）で示してください。',
  age: '正確な年齢は書かないでください。「20歳代前半」のように年代で示してください。',
  personName: '実名は書かないでください。「Aさん」などの記号に置き換えてください。',
  teacherName: '実名は書かないでください。「B先生」などの記号に置き換えてください。',
  municipality:
    '市町村名・地区名は書かないでください。「県内の市部」「山間部の町村」のように示してください。',
  school: '学校名は書かないでください。「全日制の私立高校」のように種別で示してください。',
  medical: '病院・診療所の名前は書かないでください。「精神科の病院」のように種別で示してください。',
  company: '会社名は書かないでください。「製造業の会社」のように業種で示してください。',
} as const;
