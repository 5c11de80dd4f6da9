import mongoose, { Types } from 'mongoose';
import { Certificate } from '../certificates/certificate.model.js';
import { CaseStudy } from '../case-studies/case-study.model.js';
import type { Program } from '../courses/catalog.types.js';
import { Organisation } from '../organisations/organisation.model.js';
import { User } from '../users/user.model.js';
import { TrackingMember, type Stage } from './member.model.js';
import { trackingGeneration } from './sync.service.js';

/**
 * The figures behind the reports, each one aggregation in the database over tracking_members (or
 * certificates, case_studies). Only active accounts count: pending ones are not yet staff and
 * suspended ones are not working (their municipality's coverage drops at once). Results are kept
 * for up to CACHE_MS, and only while no tracking row has changed since (trackingGeneration), so a
 * report never shows figures older than the last change it has seen.
 */
const CACHE_MS = 60_000;
const cache = new Map<string, { generation: number; at: number; value: Promise<unknown> }>();

export function cached<T>(key: string, compute: () => Promise<T>): Promise<T> {
  const generation = trackingGeneration();
  const hit = cache.get(key);
  if (hit && hit.generation === generation && Date.now() - hit.at < CACHE_MS)
    return hit.value as Promise<T>;
  if (cache.size > 500) cache.clear();
  const value = compute();
  cache.set(key, { generation, at: Date.now(), value });
  value.catch(() => cache.delete(key));
  return value;
}

/** Drops every cached figure (the bench measures uncached reports with it). */
export function forgetReportFigures(): void {
  cache.clear();
}

export interface GroupCount {
  municipalityId: string | null;
  sector: string | null;
  profession: string | null;
  stage: Stage;
  count: number;
}

const oid = (id: string) => new Types.ObjectId(id);

/** Active people by sector, profession and stage in one municipality. */
export function municipalityCounts(
  program: Program,
  municipalityId: string,
): Promise<GroupCount[]> {
  return cached(`m:${program.id}:${municipalityId}`, async () => {
    const rows = await TrackingMember.aggregate<{
      _id: { sector: string | null; profession: string | null; stage: Stage };
      count: number;
    }>([
      {
        $match: {
          programId: program.id,
          municipalityId: oid(municipalityId),
          status: 'active',
        },
      },
      {
        $group: {
          _id: { sector: '$sector', profession: '$profession', stage: '$stage' },
          count: { $sum: 1 },
        },
      },
    ]);
    return rows.map((row) => ({
      municipalityId,
      sector: row._id.sector ?? null,
      profession: row._id.profession ?? null,
      stage: row._id.stage,
      count: row.count,
    }));
  });
}

/** Active people by municipality, sector and stage, in one region or the whole prefecture. */
export function areaCounts(program: Program, regionId: string | null): Promise<GroupCount[]> {
  return cached(`a:${program.id}:${regionId ?? 'all'}`, async () => {
    const match: Record<string, unknown> = { programId: program.id, status: 'active' };
    if (regionId) match.regionId = oid(regionId);
    const rows = await TrackingMember.aggregate<{
      _id: { municipalityId: Types.ObjectId | null; sector: string | null; stage: Stage };
      count: number;
    }>([
      { $match: match },
      {
        $group: {
          _id: { municipalityId: '$municipalityId', sector: '$sector', stage: '$stage' },
          count: { $sum: 1 },
        },
      },
    ]);
    return rows.map((row) => ({
      municipalityId: row._id.municipalityId ? String(row._id.municipalityId) : null,
      sector: row._id.sector ?? null,
      profession: null,
      stage: row._id.stage,
      count: row.count,
    }));
  });
}

/** The fiscal year (年度, April–March, Japan time) a date falls in. */
export function fiscalYearOf(date: Date): number {
  const jst = new Date(date.getTime() + 9 * 3_600_000);
  return jst.getUTCMonth() >= 3 ? jst.getUTCFullYear() : jst.getUTCFullYear() - 1;
}

/** The first moment of a fiscal year: 1 April, 00:00 Japan time. */
export function fiscalYearStart(year: number): Date {
  return new Date(Date.UTC(year, 3, 1) - 9 * 3_600_000);
}

/** Valid certificates of the fiscal year by month of issue (Japan time): 12 counts, April first. */
export function certificatesByMonth(program: Program, fiscalYear: number): Promise<number[]> {
  return cached(`months:${program.id}:${fiscalYear}`, async () => {
    const rows = await Certificate.aggregate<{ _id: number; count: number }>([
      { $match: { programId: program.id, fiscalYear, valid: true } },
      {
        $group: {
          _id: { $month: { date: '$issuedAt', timezone: '+09:00' } },
          count: { $sum: 1 },
        },
      },
    ]);
    const months = Array<number>(12).fill(0);
    for (const row of rows) months[(row._id + 8) % 12] += row.count;
    return months;
  });
}

/** Valid certificates issued in the fiscal year, by the holder's current municipality. */
export function certificatesInYearByMunicipality(
  program: Program,
  fiscalYear: number,
): Promise<Map<string, number>> {
  return cached(`issued:${program.id}:${fiscalYear}`, async () => {
    const start = fiscalYearStart(fiscalYear);
    const end = fiscalYearStart(fiscalYear + 1);
    const rows = await TrackingMember.aggregate<{ _id: Types.ObjectId | null; count: number }>([
      {
        $match: {
          programId: program.id,
          stage: 'certified',
          certificateIssuedAt: { $gte: start, $lt: end },
        },
      },
      { $group: { _id: '$municipalityId', count: { $sum: 1 } } },
    ]);
    return new Map(rows.map((row) => [String(row._id), row.count]));
  });
}

/** Median days from the first lesson to the certificate, of the active certified people. */
export function medianDaysToCertificate(program: Program): Promise<number | null> {
  return cached(`median:${program.id}`, async () => {
    const rows = await TrackingMember.aggregate<{ _id: null; days: number[] }>([
      {
        $match: {
          programId: program.id,
          status: 'active',
          stage: 'certified',
          daysToCertificate: { $ne: null },
        },
      },
      { $group: { _id: null, days: { $push: '$daysToCertificate' } } },
    ]);
    const days = (rows[0]?.days ?? []).sort((a, b) => a - b);
    if (days.length === 0) return null;
    const middle = Math.floor(days.length / 2);
    return days.length % 2 === 1 ? days[middle] : (days[middle - 1] + days[middle]) / 2;
  });
}

export interface SupervisorLoad {
  supervisorId: string | null;
  name: string;
  open: number;
  /** Days the longest-waiting case has waited. */
  longestWaitDays: number;
  /** Median wait of the supervisor's open cases. */
  medianWaitDays: number;
}

const WAITING_STATES = ['submitted', 'in_review', 'resubmitted'];

/** Open cases (submitted, in review, resubmitted) per assigned supervisor, with waiting times. */
export function supervisorLoads(program: Program, now: Date): Promise<SupervisorLoad[]> {
  return cached(`supervisors:${program.id}`, async () => {
    const rows = await CaseStudy.aggregate<{ _id: Types.ObjectId | null; since: Date[] }>([
      { $match: { programId: program.id, state: { $in: WAITING_STATES } } },
      { $unwind: { path: '$assignedSupervisorIds', preserveNullAndEmptyArrays: true } },
      {
        $group: {
          _id: '$assignedSupervisorIds',
          since: { $push: { $ifNull: ['$submittedAt', '$stateChangedAt'] } },
        },
      },
    ]);
    const ids = rows.flatMap((row) => (row._id ? [row._id] : []));
    const names = new Map(
      (await User.find({ _id: mongoose.trusted({ $in: ids }) }, { name: 1 }).lean()).map((u) => [
        String(u._id),
        u.name,
      ]),
    );
    return rows
      .map((row) => {
        const waits = row.since
          .map((since) => (now.getTime() - new Date(since).getTime()) / 86_400_000)
          .sort((a, b) => a - b);
        const middle = Math.floor(waits.length / 2);
        return {
          supervisorId: row._id ? String(row._id) : null,
          name: row._id ? (names.get(String(row._id)) ?? '（削除された利用者）') : '（未割り当て）',
          open: waits.length,
          longestWaitDays: Math.floor(waits[waits.length - 1] ?? 0),
          medianWaitDays: Math.floor(
            waits.length % 2 === 1 ? waits[middle] : (waits[middle - 1] + waits[middle]) / 2,
          ),
        };
      })
      .sort((a, b) => b.longestWaitDays - a.longestWaitDays);
  });
}

/**
 * Certified people per municipality and sector at the end of the previous fiscal year, for the
 * "what changed" column of the coverage list. Where people worked then is not recorded, so this
 * counts each certificate that was valid on 31 March at the municipality and organisation it was
 * issued in (stored on the certificate): an approximation that misses moves between issue and
 * that day.
 */
export function coverageAtYearStart(
  program: Program,
  fiscalYear: number,
): Promise<Map<string, Set<string>>> {
  return cached(`coverage-before:${program.id}:${fiscalYear}`, async () => {
    const start = fiscalYearStart(fiscalYear);
    const rows = await Certificate.aggregate<{
      _id: { municipalityId: Types.ObjectId | null; organisationId: Types.ObjectId | null };
    }>([
      {
        $match: {
          programId: program.id,
          issuedAt: { $lt: start },
          $or: [{ valid: true }, { revokedAt: { $gte: start } }],
        },
      },
      { $group: { _id: { municipalityId: '$municipalityId', organisationId: '$organisationId' } } },
    ]);
    const organisationIds = rows.flatMap((row) =>
      row._id.organisationId ? [row._id.organisationId] : [],
    );
    const sectors = new Map(
      (
        await Organisation.find(
          { _id: mongoose.trusted({ $in: organisationIds }) },
          { sector: 1 },
        ).lean()
      ).map((o) => [String(o._id), o.sector as string]),
    );
    const coverage = new Map<string, Set<string>>();
    for (const row of rows) {
      const sector = row._id.organisationId ? sectors.get(String(row._id.organisationId)) : null;
      if (!row._id.municipalityId || !sector) continue;
      const key = String(row._id.municipalityId);
      const set = coverage.get(key) ?? new Set<string>();
      set.add(sector);
      coverage.set(key, set);
    }
    return coverage;
  });
}
