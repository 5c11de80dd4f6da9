import mongoose, { Types } from 'mongoose';
import { invalidInput, notFound } from '../lib/errors.js';
import { isDuplicateKey, literalPattern } from '../lib/forms.js';
import { PAGE_SIZE, pageOf, skipFor, type Page } from '../admin/paging.js';
import type { Geography } from './geography.js';
import { Organisation, type Sector } from './organisation.model.js';
import type { OrganisationInput } from './organisation.schema.js';

export const DUPLICATE_NAME_MESSAGE = 'この市町村には同じ名称の所属機関がすでに登録されています。';

export interface OrganisationFilters {
  q: string;
  regionId: string;
  municipalityId: string;
  sector: string;
}

export interface OrganisationRow {
  id: string;
  name: string;
  sector: Sector;
  municipalityId: string;
  municipalityName: string;
  regionName: string;
}

/**
 * Organisations matching the filters, within the municipalities the viewer may see ('all' for
 * administrators), ordered by municipality then name.
 */
export async function listOrganisations(
  visible: 'all' | string[],
  filters: OrganisationFilters,
  geography: Geography,
  page: number,
): Promise<Page<OrganisationRow>> {
  let municipalityIds = visible === 'all' ? [...geography.byId.keys()] : visible;
  if (filters.regionId) {
    municipalityIds = municipalityIds.filter(
      (id) => geography.byId.get(id)?.regionId === filters.regionId,
    );
  }
  if (filters.municipalityId)
    municipalityIds = municipalityIds.filter((id) => id === filters.municipalityId);

  const filter: Record<string, unknown> = {
    municipalityId: mongoose.trusted({ $in: municipalityIds.map((id) => new Types.ObjectId(id)) }),
  };
  if (filters.sector) filter.sector = { $eq: filters.sector };
  if (filters.q) filter.name = mongoose.trusted({ $regex: literalPattern(filters.q) });

  const [docs, total] = await Promise.all([
    Organisation.find(filter)
      .sort({ municipalityId: 1, name: 1 })
      .skip(skipFor(page))
      .limit(PAGE_SIZE)
      .lean(),
    Organisation.countDocuments(filter),
  ]);
  // Municipality ids were generated in the reference file's order by the seed's insertMany, so
  // sorting by id lists municipalities in the prefecture's order, consistently across pages.
  const rows = docs.map((doc) => toRow(doc, geography));
  return pageOf(rows, total, page);
}

function toRow(
  doc: { _id: unknown; name: string; sector: Sector; municipalityId: unknown },
  geography: Geography,
): OrganisationRow {
  const place = geography.byId.get(String(doc.municipalityId));
  return {
    id: String(doc._id),
    name: doc.name,
    sector: doc.sector,
    municipalityId: String(doc.municipalityId),
    municipalityName: place?.name ?? '',
    regionName: place?.regionName ?? '',
  };
}

export async function getOrganisation(id: string) {
  if (!/^[0-9a-f]{24}$/i.test(id)) throw notFound();
  const organisation = await Organisation.findById(id).lean();
  if (!organisation) throw notFound();
  return organisation;
}

async function assertNameFree(input: OrganisationInput, excludeId?: string): Promise<void> {
  const filter: Record<string, unknown> = {
    municipalityId: { $eq: new Types.ObjectId(input.municipalityId) },
    name: { $eq: input.name },
  };
  if (excludeId) filter._id = mongoose.trusted({ $ne: new Types.ObjectId(excludeId) });
  if (await Organisation.exists(filter)) throw invalidInput({ name: DUPLICATE_NAME_MESSAGE });
}

/** Creates an organisation; a taken name in the same municipality is a field error, not a 500. */
export async function createOrganisation(input: OrganisationInput, geography: Geography) {
  if (!geography.byId.has(input.municipalityId))
    throw invalidInput({ municipalityId: '市町村を選択してください。' });
  await assertNameFree(input);
  try {
    return await Organisation.create({
      name: input.name,
      sector: input.sector,
      municipalityId: new Types.ObjectId(input.municipalityId),
    });
  } catch (error) {
    // Two administrators saving the same name at once: the unique index decides.
    if (isDuplicateKey(error)) throw invalidInput({ name: DUPLICATE_NAME_MESSAGE });
    throw error;
  }
}

export async function updateOrganisation(
  id: string,
  input: OrganisationInput,
  geography: Geography,
) {
  if (!geography.byId.has(input.municipalityId))
    throw invalidInput({ municipalityId: '市町村を選択してください。' });
  await assertNameFree(input, id);
  try {
    const updated = await Organisation.findByIdAndUpdate(
      id,
      {
        name: input.name,
        sector: input.sector,
        municipalityId: new Types.ObjectId(input.municipalityId),
      },
      { returnDocument: 'after', runValidators: true },
    ).lean();
    if (!updated) throw notFound();
    return updated;
  } catch (error) {
    if (isDuplicateKey(error)) throw invalidInput({ name: DUPLICATE_NAME_MESSAGE });
    throw error;
  }
}

/** Organisations of one municipality, for select boxes (user forms, CSV import). */
export async function organisationsOf(municipalityId: string) {
  if (!/^[0-9a-f]{24}$/i.test(municipalityId)) return [];
  return Organisation.find({ municipalityId: { $eq: new Types.ObjectId(municipalityId) } })
    .sort({ name: 1 })
    .lean();
}
