import type { Program } from '../courses/catalog.types.js';
import type { Geography } from '../organisations/geography.js';
import { SECTORS } from '../organisations/organisation.model.js';
import { PROFESSIONS } from '../users/user.model.js';
import {
  areaCounts,
  certificatesByMonth,
  certificatesInYearByMunicipality,
  coverageAtYearStart,
  medianDaysToCertificate,
  municipalityCounts,
  supervisorLoads,
  type GroupCount,
} from './figures.service.js';
import type { Stage } from './member.model.js';
import { NO_SECTOR } from './members.service.js';
import { countTable, type ReportTable } from './tables.js';

/** Sectors as report rows and columns: the organisation sectors, then people without one. */
export const SECTOR_ROWS: string[] = [...SECTORS, NO_SECTOR];
const PROFESSION_ROWS: string[] = [...PROFESSIONS, '未設定'];

export interface ReportOptions {
  /** Suppression threshold for viewers outside the center; null for administrators (exact). */
  threshold: number | null;
  coverageTarget: readonly string[];
  now: Date;
}

interface Tally {
  registered: number;
  inTraining: number;
  certified: number;
  bySector: Map<string, number>;
}

function tally(counts: GroupCount[], keyOf: (count: GroupCount) => string): Map<string, Tally> {
  const result = new Map<string, Tally>();
  for (const count of counts) {
    const key = keyOf(count);
    let entry = result.get(key);
    if (!entry) {
      entry = { registered: 0, inTraining: 0, certified: 0, bySector: new Map() };
      result.set(key, entry);
    }
    entry.registered += count.count;
    if (count.stage === 'in_training') entry.inTraining += count.count;
    if (count.stage === 'certified') {
      entry.certified += count.count;
      const sector = count.sector ?? NO_SECTOR;
      entry.bySector.set(sector, (entry.bySector.get(sector) ?? 0) + count.count);
    }
  }
  return result;
}

const EMPTY: Tally = { registered: 0, inTraining: 0, certified: 0, bySector: new Map() };
const STAGE_HEADERS = ['登録者', '受講中', '修了者'];

/** The tables of the municipality view: totals by sector and by profession. */
export async function municipalityTables(
  program: Program,
  municipalityId: string,
  options: ReportOptions,
): Promise<{ sectors: ReportTable; professions: ReportTable }> {
  const counts = await municipalityCounts(program, municipalityId);
  const bySector = tally(counts, (count) => count.sector ?? NO_SECTOR);
  const byProfession = tally(counts, (count) => count.profession ?? '未設定');
  const row = (label: string, entry: Tally | undefined) => ({
    labels: [label],
    counts: [entry?.registered ?? 0, entry?.inTraining ?? 0, entry?.certified ?? 0],
  });
  return {
    sectors: countTable({
      id: 'sectors',
      title: '分野別の人数',
      labelHeaders: ['分野'],
      countHeaders: STAGE_HEADERS,
      rows: SECTOR_ROWS.map((sector) => row(sector, bySector.get(sector))),
      totalLabel: '合計',
      threshold: options.threshold,
      chart: { type: 'bar', series: [1, 2], horizontal: true },
    }),
    professions: countTable({
      id: 'professions',
      title: '職種別の人数',
      labelHeaders: ['職種'],
      countHeaders: STAGE_HEADERS,
      rows: PROFESSION_ROWS.map((profession) => row(profession, byProfession.get(profession))),
      totalLabel: '合計',
      threshold: options.threshold,
    }),
  };
}

/** Count columns of the area tables: stages, then certified people per sector. */
function areaRow(entry: Tally): number[] {
  return [
    entry.registered,
    entry.inTraining,
    entry.certified,
    ...SECTOR_ROWS.map((sector) => entry.bySector.get(sector) ?? 0),
  ];
}
const AREA_HEADERS = [...STAGE_HEADERS, ...SECTOR_ROWS.map((sector) => `修了者（${sector}）`)];
/** certified = the sum of the sector columns: a line for the secondary suppression. */
const AREA_ROW_SUM = { total: 2, parts: SECTOR_ROWS.map((_, index) => 3 + index) };

/** The region view: its municipalities side by side. */
export async function regionTables(
  program: Program,
  regionId: string,
  geography: Geography,
  options: ReportOptions,
): Promise<{ municipalities: ReportTable; covered: Map<string, number> }> {
  const counts = await areaCounts(program, regionId);
  const byMunicipality = tally(counts, (count) => count.municipalityId ?? '');
  const places = [...geography.byId.values()].filter((place) => place.regionId === regionId);
  const covered = new Map<string, number>();
  const rows = places.map((place) => {
    const entry = byMunicipality.get(place.id) ?? EMPTY;
    const sectors = SECTORS.filter((sector) => (entry.bySector.get(sector) ?? 0) > 0).length;
    covered.set(place.id, sectors);
    return {
      labels: [place.name],
      counts: [...areaRow(entry), sectors],
      highlight: entry.certified === 0,
    };
  });
  const table = countTable({
    id: 'municipalities',
    title: '市町村別の状況',
    labelHeaders: ['市町村'],
    countHeaders: [...AREA_HEADERS, '修了者のいる分野の数'],
    rows,
    totalLabel: '圏域計',
    rowSum: AREA_ROW_SUM,
    plain: [AREA_HEADERS.length],
    threshold: options.threshold,
    chart: { type: 'bar', series: [1, 2] },
  });
  // The region total of "sectors covered" is not a sum: count the sectors covered anywhere.
  const regionSectors = new Set<string>();
  for (const entry of byMunicipality.values())
    for (const [sector, n] of entry.bySector)
      if (n > 0 && sector !== NO_SECTOR) regionSectors.add(sector);
  table.rows[table.totalRow!][table.columns.length - 1] = regionSectors.size;
  return { municipalities: table, covered };
}

export interface CoverageRow {
  regionName: string;
  municipalityId: string;
  municipalityName: string;
  certified: number;
  missing: string[];
  missingBefore: string[];
  change: 'lost' | 'gained' | 'still_short' | 'met';
}

export const COVERAGE_CHANGE_LABELS: Record<CoverageRow['change'], string> = {
  lost: '前年度末は達成 → 未達に',
  gained: '前年度末は未達 → 達成',
  still_short: '前年度末から未達',
  met: '達成',
};

export interface PrefectureReport {
  fiscalYear: number;
  totals: Tally;
  municipalitiesWithCertified: number;
  municipalityCount: number;
  medianDays: number | null;
  tiles: {
    regionName: string;
    regionId: string;
    places: { id: string; name: string; certified: number }[];
  }[];
  tables: {
    regions: ReportTable;
    municipalities: ReportTable;
    sectors: ReportTable;
    months: ReportTable;
    coverage: ReportTable;
    supervisors: ReportTable;
    yearly: ReportTable;
  };
  coverageShort: CoverageRow[];
}

/** The prefecture view (administrators: exact figures). */
export async function prefectureReport(
  program: Program,
  geography: Geography,
  fiscalYear: number,
  options: ReportOptions,
): Promise<PrefectureReport> {
  const [counts, months, issued, before, medianDays, supervisors] = await Promise.all([
    areaCounts(program, null),
    certificatesByMonth(program, fiscalYear),
    certificatesInYearByMunicipality(program, fiscalYear),
    coverageAtYearStart(program, fiscalYear),
    medianDaysToCertificate(program),
    supervisorLoads(program, options.now),
  ]);
  const byMunicipality = tally(counts, (count) => count.municipalityId ?? '');
  const totals = tally(counts, () => 'all').get('all') ?? EMPTY;
  const places = [...geography.byId.values()];
  const regions = [...new Map(places.map((p) => [p.regionId, p.regionName])).entries()];
  const threshold = options.threshold;

  const regionRows = regions.map(([regionId, regionName]) => {
    const inRegion = places.filter((place) => place.regionId === regionId);
    const entries = inRegion.map((place) => byMunicipality.get(place.id) ?? EMPTY);
    const sum = (f: (t: Tally) => number) => entries.reduce((s, t) => s + f(t), 0);
    return {
      labels: [`${regionName}`],
      counts: [
        inRegion.length,
        entries.filter((t) => t.certified > 0).length,
        sum((t) => t.registered),
        sum((t) => t.inTraining),
        sum((t) => t.certified),
      ],
    };
  });
  const municipalityRows = places.map((place) => {
    const entry = byMunicipality.get(place.id) ?? EMPTY;
    return {
      labels: [place.regionName, place.name],
      counts: [entry.registered, entry.inTraining, entry.certified],
      highlight: entry.certified === 0,
    };
  });
  const sectorRows = SECTOR_ROWS.map((sector) => ({
    labels: [sector],
    counts: [
      totals.bySector.get(sector) ?? 0,
      places.filter((place) => (byMunicipality.get(place.id)?.bySector.get(sector) ?? 0) > 0)
        .length,
    ],
  }));
  const monthNames = [
    '4月',
    '5月',
    '6月',
    '7月',
    '8月',
    '9月',
    '10月',
    '11月',
    '12月',
    '1月',
    '2月',
    '3月',
  ];

  const coverageShort: CoverageRow[] = [];
  for (const place of places) {
    const entry = byMunicipality.get(place.id) ?? EMPTY;
    const missing = options.coverageTarget.filter((s) => (entry.bySector.get(s) ?? 0) === 0);
    const had = before.get(place.id) ?? new Set<string>();
    const missingBefore = options.coverageTarget.filter((s) => !had.has(s));
    const change =
      missing.length === 0
        ? missingBefore.length === 0
          ? 'met'
          : 'gained'
        : missingBefore.length === 0
          ? 'lost'
          : 'still_short';
    if (missing.length > 0 || change === 'gained')
      coverageShort.push({
        regionName: place.regionName,
        municipalityId: place.id,
        municipalityName: place.name,
        certified: entry.certified,
        missing,
        missingBefore,
        change,
      });
  }
  // Those who fell short since last year first, then those still short, then the newly covered.
  const order = { lost: 0, still_short: 1, gained: 2, met: 3 };
  coverageShort.sort((a, b) => order[a.change] - order[b.change]);

  const tables = {
    regions: countTable({
      id: 'regions',
      title: '圏域別の状況',
      labelHeaders: ['圏域'],
      countHeaders: ['市町村数', '修了者のいる市町村', ...STAGE_HEADERS],
      rows: regionRows,
      totalLabel: '県計',
      plain: [0, 1],
      threshold,
      chart: { type: 'bar', series: [3, 4] },
    }),
    municipalities: countTable({
      id: 'municipalities',
      title: '市町村別の状況',
      labelHeaders: ['圏域', '市町村'],
      countHeaders: STAGE_HEADERS,
      rows: municipalityRows,
      totalLabel: '県計',
      threshold,
      note: '修了者のいない市町村を強調しています。',
    }),
    sectors: countTable({
      id: 'sectors',
      title: '分野別の修了者',
      labelHeaders: ['分野'],
      countHeaders: ['修了者', '修了者のいる市町村'],
      rows: sectorRows,
      totalLabel: '県計',
      plain: [1],
      noTotal: [1],
      threshold,
      chart: { type: 'bar', series: [0], horizontal: true },
    }),
    months: countTable({
      id: 'months',
      title: `${fiscalYear}年度の月別修了証書発行数`,
      labelHeaders: ['月'],
      countHeaders: ['発行数'],
      rows: monthNames.map((name, index) => ({ labels: [name], counts: [months[index]] })),
      totalLabel: '年度計',
      threshold,
      chart: { type: 'bar', series: [0] },
      note: '取り消された証書は含みません。',
    }),
    coverage: {
      id: 'coverage',
      title: `分野の目標（${options.coverageTarget.join('・')}に各1人以上）に届かない市町村`,
      columns: [
        { header: '圏域', width: 10 },
        { header: '市町村', width: 12 },
        { header: '修了者', width: 10, numeric: true },
        { header: '修了者のいない分野', width: 24 },
        { header: '前年度末に修了者のいなかった分野', width: 28 },
        { header: '前年度末からの変化', width: 24 },
      ],
      rows: coverageShort.map((row) => [
        row.regionName,
        row.municipalityName,
        row.certified,
        row.missing.join('・'),
        row.missingBefore.join('・'),
        COVERAGE_CHANGE_LABELS[row.change],
      ]),
      note: '前年度末の状況は、3月31日に有効だった修了証書を発行時の市町村・所属機関で数えています（異動の記録がないため）。',
    } satisfies ReportTable,
    supervisors: {
      id: 'supervisors',
      title: 'スーパーバイザーの確認待ち事例',
      columns: [
        { header: 'スーパーバイザー', width: 18 },
        { header: '確認待ちの事例', width: 14, numeric: true },
        { header: '最も長い待ち日数', width: 16, numeric: true },
        { header: '待ち日数の中央値', width: 16, numeric: true },
      ],
      rows: supervisors.map((s) => [s.name, s.open, s.longestWaitDays, s.medianWaitDays]),
    } satisfies ReportTable,
    yearly: countTable({
      id: 'yearly',
      title: `${fiscalYear}年度 市町村別の修了者（分野別）と修了証書の発行数`,
      labelHeaders: ['圏域', '市町村'],
      countHeaders: [...SECTOR_ROWS.map((s) => `修了者（${s}）`), '修了者計', '年度内の発行数'],
      rows: places.map((place) => {
        const entry = byMunicipality.get(place.id) ?? EMPTY;
        return {
          labels: [place.regionName, place.name],
          counts: [
            ...SECTOR_ROWS.map((s) => entry.bySector.get(s) ?? 0),
            entry.certified,
            issued.get(place.id) ?? 0,
          ],
        };
      }),
      totalLabel: '県計',
      rowSum: { total: SECTOR_ROWS.length, parts: SECTOR_ROWS.map((_, i) => i) },
      threshold,
      note: '修了者は現在の所属市町村・分野で数えています（利用中の方のみ）。発行数は年度内に発行され、取り消されていない証書の数です。',
    }),
  };
  const tiles = regions.map(([regionId, regionName]) => ({
    regionId,
    regionName,
    places: places
      .filter((place) => place.regionId === regionId)
      .map((place) => ({
        id: place.id,
        name: place.name,
        certified: byMunicipality.get(place.id)?.certified ?? 0,
      })),
  }));
  return {
    fiscalYear,
    totals,
    municipalitiesWithCertified: places.filter(
      (p) => (byMunicipality.get(p.id)?.certified ?? 0) > 0,
    ).length,
    municipalityCount: places.length,
    medianDays,
    tiles,
    tables,
    coverageShort,
  };
}

export type { Stage };
