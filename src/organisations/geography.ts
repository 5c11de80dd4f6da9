import { Municipality, type MunicipalityKind } from './municipality.model.js';
import { Region } from './region.model.js';

export interface Place {
  id: string;
  name: string;
  kind: MunicipalityKind;
  regionId: string;
  regionName: string;
}

/**
 * The 77 municipalities with their regions, keyed by id and by name: small enough to load whole
 * for a page that shows names next to ids or checks names from an imported file.
 */
export interface Geography {
  byId: Map<string, Place>;
  byName: Map<string, Place>;
  regionNames: Map<string, string>;
}

export async function loadGeography(): Promise<Geography> {
  const [regions, municipalities] = await Promise.all([
    Region.find().lean(),
    Municipality.find().sort({ order: 1 }).lean(),
  ]);
  const regionNames = new Map(regions.map((region) => [String(region._id), region.name]));
  const byId = new Map<string, Place>();
  const byName = new Map<string, Place>();
  for (const municipality of municipalities) {
    const place: Place = {
      id: String(municipality._id),
      name: municipality.name,
      kind: municipality.kind,
      regionId: String(municipality.regionId),
      regionName: regionNames.get(String(municipality.regionId)) ?? '',
    };
    byId.set(place.id, place);
    byName.set(place.name, place);
  }
  return { byId, byName, regionNames };
}
