import mongoose, { type Types } from 'mongoose';
import { hashPassword } from '../auth/password.js';
import { Municipality } from '../organisations/municipality.model.js';
import { Organisation } from '../organisations/organisation.model.js';
import type { Role } from '../users/roles.js';
import { User, type Profession } from '../users/user.model.js';

/** The one password of every demo account (documented in the README). */
export const DEMO_PASSWORD = 'tsunagu-demo-2026';

export interface DemoAccount {
  email: string;
  password: string;
  label: string;
}

interface DemoUser {
  email: string;
  name: string;
  nameKana: string;
  roles: Role[];
  municipality: '長野市' | '松本市' | null;
  organisation?: string;
  profession: Profession | null;
  label: string;
  /** A name earlier demo databases gave the account, renamed on the next start. */
  formerName?: string;
}

const DEMO_ORGANISATIONS = [
  { municipality: '長野市', name: '長野市保健所 健康課', sector: '保健・医療' },
  { municipality: '長野市', name: '長野市社会福祉協議会', sector: '福祉' },
  { municipality: '長野市', name: '長野市立第一中学校', sector: '教育' },
  { municipality: '松本市', name: '松本市 福祉政策課', sector: '行政' },
  { municipality: '松本市', name: '松本市社会福祉協議会', sector: '福祉' },
  { municipality: '松本市', name: 'NPO法人 あずみの居場所ネット', sector: '民間支援団体' },
] as const;

/** A handful of users of every role in two municipalities. */
export const DEMO_USERS: DemoUser[] = [
  {
    email: 'admin@demo.tsunagu.local',
    name: '信濃 管理',
    nameKana: 'しなの かんり',
    roles: ['admin'],
    municipality: null,
    profession: '行政職員',
    label: 'センター管理者',
  },
  {
    email: 'coordinator.nagano@demo.tsunagu.local',
    name: '長野 調整',
    nameKana: 'ながの ちょうせい',
    roles: ['coordinator'],
    municipality: '長野市',
    organisation: '長野市保健所 健康課',
    profession: '保健師',
    label: '市町村担当者（長野市）',
  },
  {
    email: 'coordinator.matsumoto@demo.tsunagu.local',
    name: '松本 調整',
    nameKana: 'まつもと ちょうせい',
    roles: ['coordinator'],
    municipality: '松本市',
    organisation: '松本市 福祉政策課',
    profession: '行政職員',
    label: '市町村担当者（松本市）',
  },
  {
    email: 'regional.nagano@demo.tsunagu.local',
    // Named after the region they view (長野圏域), not 北信, which is another region.
    name: '長野 圏域',
    nameKana: 'ながの けんいき',
    roles: ['regional_viewer'],
    municipality: '長野市',
    profession: '保健師',
    label: '圏域担当（長野圏域）',
    formerName: '北信 圏域',
  },
  {
    email: 'regional.matsumoto@demo.tsunagu.local',
    name: '松本 圏域',
    nameKana: 'まつもと けんいき',
    roles: ['regional_viewer'],
    municipality: '松本市',
    profession: '保健師',
    label: '圏域担当（松本圏域）',
    formerName: '中信 圏域',
  },
  {
    email: 'supervisor.nagano@demo.tsunagu.local',
    name: '長野 指導',
    nameKana: 'ながの しどう',
    roles: ['supervisor', 'trainee'],
    municipality: '長野市',
    organisation: '長野市社会福祉協議会',
    profession: '精神保健福祉士',
    label: 'スーパーバイザー・受講者（長野市）',
  },
  {
    email: 'supervisor.matsumoto@demo.tsunagu.local',
    name: '松本 指導',
    nameKana: 'まつもと しどう',
    roles: ['supervisor'],
    municipality: '松本市',
    organisation: 'NPO法人 あずみの居場所ネット',
    profession: '公認心理師',
    label: 'スーパーバイザー（松本市）',
  },
  {
    email: 'trainee1.nagano@demo.tsunagu.local',
    name: '長野 一花',
    nameKana: 'ながの いちか',
    roles: ['trainee'],
    municipality: '長野市',
    organisation: '長野市立第一中学校',
    profession: 'スクールソーシャルワーカー',
    label: '受講者（長野市）',
  },
  {
    email: 'trainee2.nagano@demo.tsunagu.local',
    name: '長野 二郎',
    nameKana: 'ながの じろう',
    roles: ['trainee'],
    municipality: '長野市',
    organisation: '長野市社会福祉協議会',
    profession: '社会福祉士',
    label: '受講者（長野市）',
  },
  {
    email: 'trainee1.matsumoto@demo.tsunagu.local',
    name: '松本 三奈',
    nameKana: 'まつもと みな',
    roles: ['trainee'],
    municipality: '松本市',
    organisation: '松本市社会福祉協議会',
    profession: '相談支援専門員',
    label: '受講者（松本市）',
  },
  {
    email: 'trainee2.matsumoto@demo.tsunagu.local',
    name: '松本 四郎',
    nameKana: 'まつもと しろう',
    roles: ['trainee'],
    municipality: '松本市',
    profession: '民生委員・児童委員',
    label: '受講者（松本市）',
  },
  {
    email: 'pending.nagano@demo.tsunagu.local',
    name: '長野 申請',
    nameKana: 'ながの しんせい',
    roles: ['trainee'],
    municipality: '長野市',
    profession: '教員',
    label: '承認待ちの申請（長野市; ログイン不可）',
  },
];

/** Adds the demo organisations and accounts that are missing. Idempotent. */
export async function seedDemo(): Promise<DemoAccount[]> {
  const municipalities = new Map(
    (await Municipality.find({ name: mongoose.trusted({ $in: ['長野市', '松本市'] }) }).lean()).map(
      (m) => [m.name, m],
    ),
  );
  const organisationIds = new Map<string, Types.ObjectId>();
  for (const spec of DEMO_ORGANISATIONS) {
    const municipality = municipalities.get(spec.municipality);
    if (!municipality)
      throw new Error(`demo: ${spec.municipality} is missing; load the municipalities first`);
    const existing =
      (await Organisation.findOne({
        municipalityId: municipality._id,
        name: { $eq: spec.name },
      }).lean()) ??
      (await Organisation.create({
        name: spec.name,
        sector: spec.sector,
        municipalityId: municipality._id,
      }));
    organisationIds.set(spec.name, existing._id);
  }
  const passwordHash = await hashPassword(DEMO_PASSWORD);
  for (const spec of DEMO_USERS) {
    if (await User.exists({ email: { $eq: spec.email } })) {
      if (spec.formerName) {
        await User.updateOne(
          { email: { $eq: spec.email }, name: { $eq: spec.formerName } },
          { $set: { name: spec.name, nameKana: spec.nameKana } },
        );
      }
      continue;
    }
    const municipality = spec.municipality ? municipalities.get(spec.municipality) : undefined;
    await User.create({
      name: spec.name,
      nameKana: spec.nameKana,
      email: spec.email,
      passwordHash,
      roles: spec.roles,
      status: spec.email.startsWith('pending.') ? 'pending' : 'active',
      municipalityId: municipality?._id ?? null,
      regionId: municipality?.regionId ?? null,
      organisationId: spec.organisation ? (organisationIds.get(spec.organisation) ?? null) : null,
      profession: spec.profession,
      passwordChangedAt: new Date(),
    });
  }
  return DEMO_USERS.map((spec) => ({
    email: spec.email,
    password: DEMO_PASSWORD,
    label: spec.label,
  }));
}
