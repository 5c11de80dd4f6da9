import { randomUUID } from 'node:crypto';
import { hashPassword } from '../../src/auth/password.js';
import {
  Municipality,
  type MunicipalityDocument,
} from '../../src/organisations/municipality.model.js';
import { Region } from '../../src/organisations/region.model.js';
import type { Role } from '../../src/users/roles.js';
import {
  User,
  type Profession,
  type UserDocument,
  type UserStatus,
} from '../../src/users/user.model.js';

/** Regions of the municipalities tests use most; anything else goes to a test region. */
const KNOWN_REGIONS: Record<string, string> = {
  長野市: '長野',
  須坂市: '長野',
  千曲市: '長野',
  松本市: '松本',
  安曇野市: '松本',
  上田市: '上小',
  飯田市: '飯伊',
  佐久市: '佐久',
};

let order = 1000;

/**
 * The municipality of that name (and its region), created when missing. Works whether or not
 * the reference data has been seeded.
 */
export async function buildMunicipality(name = '長野市'): Promise<MunicipalityDocument> {
  const existing = await Municipality.findOne({ name: { $eq: name } });
  if (existing) return existing;
  const regionName = KNOWN_REGIONS[name] ?? 'テスト';
  const region =
    (await Region.findOne({ name: { $eq: regionName } })) ??
    (await Region.create({ name: regionName, order: order++ }));
  const kind = (['市', '町', '村'] as const).find((suffix) => name.endsWith(suffix)) ?? '市';
  return Municipality.create({ name, kind, regionId: region._id, order: order++ });
}

export const DEFAULT_TEST_PASSWORD = 'correct-horse-battery-staple';

/**
 * The scrypt cost of the factory's users. The production cost (N = 32768, about 0.1–0.2 s of a
 * core per check) would be paid again at every sign-in of the suite; the stored hash names its
 * cost, so these users verify in a few ms. What the app itself writes (registration, invitation,
 * password change and reset) keeps the production cost, pinned in test/auth/password.test.ts,
 * and those users sign in through it.
 */
const FACTORY_HASH_COST = { N: 1024, r: 8, p: 1 };

// Hash each distinct test password once per process.
const hashes = new Map<string, Promise<string>>();
function cachedHash(password: string): Promise<string> {
  let hash = hashes.get(password);
  if (!hash) {
    hash = hashPassword(password, FACTORY_HASH_COST);
    hashes.set(password, hash);
  }
  return hash;
}

export interface BuildUserOptions {
  roles?: Role[];
  /** A municipality document or name; defaults to 長野市 (admins: none unless given). */
  municipality?: MunicipalityDocument | string | null;
  status?: UserStatus;
  password?: string;
  email?: string;
  name?: string;
  nameKana?: string;
  profession?: Profession | null;
}

/** A user with a known password; creates the municipality and region it needs. */
export async function buildUser(
  options: BuildUserOptions = {},
): Promise<{ user: UserDocument; password: string }> {
  const roles = options.roles ?? ['trainee'];
  const password = options.password ?? DEFAULT_TEST_PASSWORD;
  const municipalityOption =
    options.municipality === undefined
      ? roles.every((role) => role === 'admin')
        ? null
        : '長野市'
      : options.municipality;
  const municipality =
    typeof municipalityOption === 'string'
      ? await buildMunicipality(municipalityOption)
      : municipalityOption;
  const tag = randomUUID().slice(0, 8);
  const user = await User.create({
    name: options.name ?? `テスト 利用者${tag}`,
    nameKana: options.nameKana ?? 'てすと りようしゃ',
    email: options.email ?? `user-${tag}@example.jp`,
    passwordHash: await cachedHash(password),
    roles,
    status: options.status ?? 'active',
    municipalityId: municipality?._id ?? null,
    regionId: municipality?.regionId ?? null,
    profession: options.profession === undefined ? '保健師' : options.profession,
  });
  return { user, password };
}
