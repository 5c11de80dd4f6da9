import mongoose, { Types } from 'mongoose';
import type { SessionUser } from '../auth/session-user.js';
import { loadGeography } from '../organisations/geography.js';
import { Municipality } from '../organisations/municipality.model.js';
import {
  groupsWithin,
  listMunicipalitiesByRegion,
  regionSelectOptions,
  toSelectOptions,
} from '../organisations/organisations.service.js';

/**
 * Which municipalities' records a signed-in person may see on the admin pages: everything for
 * center administrators, the home municipality for coordinators, the home region's
 * municipalities for regional viewers (a person holding both sees the union). The rule itself
 * is in src/auth/policy.ts (adminScopeOf); this turns it into query filters.
 */
export type Scope = { all: true } | { all: false; municipalityIds: string[]; regionIds: string[] };

export function scopeOf(user: SessionUser): Scope {
  if (user.roles.includes('admin')) return { all: true };
  const municipalityIds: string[] = [];
  const regionIds: string[] = [];
  if (user.roles.includes('coordinator') && user.municipalityId)
    municipalityIds.push(user.municipalityId);
  if (user.roles.includes('regional_viewer') && user.regionId) regionIds.push(user.regionId);
  return { all: false, municipalityIds, regionIds };
}

/** Every municipality id the scope covers ('all' for administrators). */
export async function municipalityIdsIn(scope: Scope): Promise<'all' | string[]> {
  if (scope.all) return 'all';
  const ids = new Set(scope.municipalityIds);
  if (scope.regionIds.length > 0) {
    const inRegions = await Municipality.find(
      { regionId: mongoose.trusted({ $in: scope.regionIds.map((id) => new Types.ObjectId(id)) }) },
      { _id: 1 },
    ).lean();
    for (const municipality of inRegions) ids.add(String(municipality._id));
  }
  return [...ids];
}

/**
 * What a list page needs of the signed-in person's area: the scope for its query, the place
 * names, the municipalities visible, and the region and municipality choices for its filters.
 */
export async function listingArea(user: SessionUser) {
  const scope = scopeOf(user);
  const [geography, groups, visible] = await Promise.all([
    loadGeography(),
    listMunicipalitiesByRegion(),
    municipalityIdsIn(scope),
  ]);
  const visibleGroups = groupsWithin(groups, visible);
  return {
    scope,
    geography,
    visible,
    visibleGroups,
    regionOptions: regionSelectOptions(visibleGroups),
    municipalityOptions: toSelectOptions(visibleGroups),
  };
}
