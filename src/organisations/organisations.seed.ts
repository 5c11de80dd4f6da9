import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { sourceFile } from '../lib/paths.js';
import { MUNICIPALITY_KINDS, Municipality, type MunicipalityKind } from './municipality.model.js';
import { Organisation } from './organisation.model.js';
import { Region } from './region.model.js';

/** The reference data, copied from ../shared/reference: columns region,municipality,kind. */
export const MUNICIPALITIES_CSV = sourceFile('organisations', 'nagano-municipalities.csv');

/** What the reference data must contain; a file that disagrees is refused rather than half-loaded. */
export const EXPECTED_COUNTS = { regions: 10, municipalities: 77, 市: 19, 町: 23, 村: 35 } as const;

export interface ReferenceMunicipality {
  region: string;
  name: string;
  kind: MunicipalityKind;
}

/** Reads and checks the reference CSV, keeping its order. Throws on anything unexpected. */
export function readReferenceMunicipalities(file = MUNICIPALITIES_CSV): ReferenceMunicipality[] {
  const records = parse<Record<string, string>>(readFileSync(file, 'utf8'), {
    columns: true,
    bom: true,
    skip_empty_lines: true,
    trim: true,
  });
  const problems: string[] = [];
  const seen = new Set<string>();
  const rows = records.map((record, index) => {
    const line = index + 2;
    const region = record.region ?? '';
    const name = record.municipality ?? '';
    const kind = record.kind as MunicipalityKind;
    if (!region || !name) problems.push(`line ${line}: region and municipality are required`);
    if (!MUNICIPALITY_KINDS.includes(kind)) problems.push(`line ${line}: unknown kind "${kind}"`);
    else if (!name.endsWith(kind))
      problems.push(`line ${line}: "${name}" does not end with its kind ${kind}`);
    if (seen.has(name)) problems.push(`line ${line}: duplicate municipality "${name}"`);
    seen.add(name);
    return { region, name, kind };
  });
  const regions = new Set(rows.map((row) => row.region));
  const count = (kind: MunicipalityKind) => rows.filter((row) => row.kind === kind).length;
  const actual = {
    regions: regions.size,
    municipalities: rows.length,
    市: count('市'),
    町: count('町'),
    村: count('村'),
  };
  for (const [key, expected] of Object.entries(EXPECTED_COUNTS)) {
    const got = actual[key as keyof typeof actual];
    if (got !== expected) problems.push(`expected ${expected} ${key}, found ${got}`);
  }
  if (problems.length > 0) {
    throw new Error(`Invalid municipality reference data (${file}):\n  ${problems.join('\n  ')}`);
  }
  return rows;
}

export interface SeedResult {
  regionsCreated: number;
  municipalitiesCreated: number;
}

/**
 * Loads the 10 regions and 77 municipalities. Idempotent: records already present (by name) are
 * left as they are, so it runs on every start and only fills an empty or partial database.
 */
export async function seedOrganisations(): Promise<SeedResult> {
  // Indexes are declared in the schemas; build them explicitly so a fresh database (tests, first
  // start) enforces uniqueness from the first write.
  await Promise.all([
    Region.createIndexes(),
    Municipality.createIndexes(),
    Organisation.createIndexes(),
  ]);
  const rows = readReferenceMunicipalities();

  const regionNames = [...new Set(rows.map((row) => row.region))];
  const existingRegions = await Region.find({}, { name: 1 }).lean();
  const regionIdByName = new Map(existingRegions.map((region) => [region.name, region._id]));
  const newRegions = regionNames
    .map((name, order) => ({ name, order }))
    .filter((region) => !regionIdByName.has(region.name));
  if (newRegions.length > 0) {
    const created = await Region.insertMany(newRegions);
    for (const region of created) regionIdByName.set(region.name, region._id);
  }

  const existingMunicipalities = await Municipality.find({}, { name: 1 }).lean();
  const known = new Set(existingMunicipalities.map((municipality) => municipality.name));
  const newMunicipalities = rows
    .map((row, order) => ({
      name: row.name,
      kind: row.kind,
      regionId: regionIdByName.get(row.region),
      order,
    }))
    .filter((municipality) => !known.has(municipality.name));
  if (newMunicipalities.length > 0) await Municipality.insertMany(newMunicipalities);

  return { regionsCreated: newRegions.length, municipalitiesCreated: newMunicipalities.length };
}
