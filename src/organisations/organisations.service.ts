import { Types } from 'mongoose';
import { Municipality, type MunicipalityKind } from './municipality.model.js';
import { Region } from './region.model.js';

export interface MunicipalityOption {
  id: string;
  name: string;
  kind: MunicipalityKind;
}

export interface RegionGroup {
  region: { id: string; name: string };
  municipalities: MunicipalityOption[];
}

/** Regions in their display order, each with its municipalities in order: for select boxes. */
export async function listMunicipalitiesByRegion(): Promise<RegionGroup[]> {
  const [regions, municipalities] = await Promise.all([
    Region.find().sort({ order: 1 }).lean(),
    Municipality.find().sort({ order: 1 }).lean(),
  ]);
  const groups = regions.map((region) => ({
    region: { id: String(region._id), name: region.name },
    municipalities: [] as MunicipalityOption[],
  }));
  const byRegion = new Map(groups.map((group) => [group.region.id, group]));
  for (const municipality of municipalities) {
    byRegion.get(String(municipality.regionId))?.municipalities.push({
      id: String(municipality._id),
      name: municipality.name,
      kind: municipality.kind,
    });
  }
  return groups;
}

/** Only the municipalities in `visible` (ids, or 'all'), dropping regions left empty. */
export function groupsWithin(
  groups: RegionGroup[],
  visible: readonly string[] | 'all',
): RegionGroup[] {
  if (visible === 'all') return groups;
  return groups
    .map((group) => ({
      ...group,
      municipalities: group.municipalities.filter((m) => visible.includes(m.id)),
    }))
    .filter((group) => group.municipalities.length > 0);
}

/** The groups in the shape views/partials/field.ejs takes for a select with optgroups. */
export function toSelectOptions(groups: RegionGroup[]) {
  return groups.map((group) => ({
    group: `${group.region.name}圏域`,
    options: group.municipalities.map((municipality) => ({
      value: municipality.id,
      label: municipality.name,
    })),
  }));
}

/** Regions as plain select options. */
export function regionSelectOptions(groups: RegionGroup[]) {
  return groups.map((group) => ({ value: group.region.id, label: `${group.region.name}圏域` }));
}

/** True for a 24-hex string: ids from the request are checked before they reach a query. */
export function isObjectIdString(value: unknown): value is string {
  return (
    typeof value === 'string' && /^[0-9a-f]{24}$/i.test(value) && Types.ObjectId.isValid(value)
  );
}
