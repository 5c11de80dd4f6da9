import { createRequire } from 'node:module';
import path from 'node:path';
import express, { Router, type Request, type Response } from 'express';
import { Types } from 'mongoose';
import { requireAuth } from '../auth/middleware.js';
import { authorize, can } from '../auth/policy.js';
import type { SessionUser } from '../auth/session-user.js';
import type { Config } from '../config.js';
import type { Catalog, Program } from '../courses/catalog.types.js';
import { CASE_STUDY_STATE_LABELS } from '../case-studies/case-study.model.js';
import { formatDate } from '../lib/dates.js';
import { notFound } from '../lib/errors.js';
import { reserveAttempt } from '../auth/throttle.js';
import type { Logger } from '../lib/logger.js';
import type { Mailer } from '../mail/mailer.js';
import { loadGeography, type Geography, type Place } from '../organisations/geography.js';
import { Organisation, SECTORS } from '../organisations/organisation.model.js';
import { isObjectIdString } from '../organisations/organisations.service.js';
import { PROFESSIONS, USER_STATUS_LABELS, USER_STATUSES, User } from '../users/user.model.js';
import { sendExport, type ExportFormat } from './export.js';
import { fiscalYearOf } from './figures.service.js';
import { STAGES, TrackingMember } from './member.model.js';
import {
  findMembers,
  findStalled,
  memberCells,
  memberColumns,
  memberQuery,
  stalledQuery,
  NO_SECTOR,
  STAGE_LABELS,
  streamMembers,
  type MemberFilters,
} from './members.service.js';
import { reminderMessage } from './messages.js';
import { nextReminderAllowed, recentReminders, recordReminder } from './reminders.service.js';
import { municipalityTables, prefectureReport, regionTables } from './reports.service.js';
import { syncMembers } from './sync.service.js';
import { cellText, chartData, type ReportTable } from './tables.js';
import { tileClass } from './tile-map.js';
import { printHeading } from '../http/print-heading.js';

const PAGE_SIZE = 50;
const STALLED_SHOWN = 30;
const EXPORT_NAME = /^([a-z]+)\.(csv|xlsx)$/;

/**
 * Chart.js, served from its package (no CDN; the CSP allows scripts from this origin only): found
 * as Node finds the package, wherever node_modules is.
 */
export function chartAssets(isProduction: boolean): express.Handler {
  const dist = path.dirname(createRequire(import.meta.url).resolve('chart.js'));
  return express.static(dist, {
    index: false,
    maxAge: isProduction ? '7d' : 0,
  });
}

interface Deps {
  config: Config;
  logger: Logger;
  mailer: Mailer;
  catalog: Catalog;
}

/** 研修の実施状況: the municipality, region and prefecture reports and their exports. */
export function trackingRouter({ config, logger, mailer, catalog }: Deps): Router {
  const router = Router();
  const settings = config.tracking;

  /** The program asked for (?program=), else the first; unknown ids fall back to the default. */
  function programOf(req: Request): Program {
    const asked =
      typeof req.query.program === 'string' ? catalog.program(req.query.program) : undefined;
    const program = asked ?? catalog.programs[0];
    if (!program) throw notFound();
    return program;
  }
  const thresholdFor = (user: SessionUser) =>
    user.roles.includes('admin') ? null : settings.smallCountThreshold;
  const options = (user: SessionUser) => ({
    threshold: thresholdFor(user),
    coverageTarget: settings.coverageTarget,
    now: new Date(),
  });

  async function placeOf(
    req: Request,
    user: SessionUser,
  ): Promise<{ place: Place; geography: Geography }> {
    const id = req.params.municipalityId;
    if (!isObjectIdString(id)) throw notFound();
    const geography = await loadGeography();
    const place = geography.byId.get(id);
    if (!place) throw notFound();
    authorize(user, 'report.municipality', { municipalityId: place.id, regionId: place.regionId });
    return { place, geography };
  }

  async function regionOf(req: Request, user: SessionUser) {
    const id = req.params.regionId;
    if (!isObjectIdString(id)) throw notFound();
    const geography = await loadGeography();
    const name = geography.regionNames.get(id);
    if (!name) throw notFound();
    authorize(user, 'report.region', { regionId: id });
    return { regionId: id, regionName: name, geography };
  }

  /** Where /reports leads: the widest view the person may open. */
  router.get('/reports', requireAuth, (req, res) => {
    const user = req.user!;
    if (can(user, 'report.prefecture')) return res.redirect('/reports/prefecture');
    if (can(user, 'report.region') && user.regionId)
      return res.redirect(`/reports/regions/${user.regionId}`);
    if (can(user, 'report.municipality') && user.municipalityId)
      return res.redirect(`/reports/municipalities/${user.municipalityId}`);
    throw notFound();
  });

  // ── Prefecture ─────────────────────────────────────────────────────────────────────────────
  router.get('/reports/prefecture', requireAuth, printHeading(), async (req, res) => {
    const user = req.user!;
    authorize(user, 'report.prefecture', undefined);
    const program = programOf(req);
    const fiscalYear = yearOf(req);
    await syncMembers(program);
    const geography = await loadGeography();
    const report = await prefectureReport(program, geography, fiscalYear, options(user));
    res.render('reports/prefecture', {
      title: '研修の実施状況（県全体）',
      ...viewBase(program, null),
      report,
      fiscalYear,
      yearOptions: yearOptions(),
      tileClass,
      base: '/reports/prefecture',
      mapTable: report.tables.municipalities,
    });
  });

  router.get('/reports/prefecture/export/:file', requireAuth, async (req, res) => {
    const user = req.user!;
    authorize(user, 'report.prefecture', undefined);
    const { table, format } = exportName(req);
    const program = programOf(req);
    await syncMembers(program);
    const geography = await loadGeography();
    if (table === 'members') {
      const filters = memberFilters(req, []);
      return sendExport(res, {
        format,
        encoding: encodingOf(req),
        name: `研修受講者一覧_県全体`,
        sheetName: '受講者一覧',
        columns: memberColumns(program, true),
        rows: streamMembers(memberQuery(program, 'all', filters), (id) => {
          const place = geography.byId.get(id);
          return { regionName: place?.regionName ?? '', municipalityName: place?.name ?? '' };
        }),
        threshold: settings.smallCountThreshold,
      });
    }
    const report = await prefectureReport(program, geography, yearOf(req), options(user));
    const found = (report.tables as Record<string, ReportTable>)[table];
    if (!found) throw notFound();
    await sendTable(req, res, found, `県全体_${found.title}`, null);
  });

  // ── Region ─────────────────────────────────────────────────────────────────────────────────
  router.get('/reports/regions/:regionId', requireAuth, printHeading(), async (req, res) => {
    const user = req.user!;
    const { regionId, regionName, geography } = await regionOf(req, user);
    const program = programOf(req);
    await syncMembers(program);
    const { municipalities } = await regionTables(program, regionId, geography, options(user));
    const places = [...geography.byId.values()].filter((place) => place.regionId === regionId);
    res.render('reports/region', {
      title: `研修の実施状況（${regionName}圏域）`,
      ...viewBase(program, thresholdFor(user)),
      regionId,
      regionName,
      table: municipalities,
      places,
      base: `/reports/regions/${regionId}`,
      canPrefecture: can(user, 'report.prefecture'),
    });
  });

  router.get('/reports/regions/:regionId/export/:file', requireAuth, async (req, res) => {
    const user = req.user!;
    const { regionId, regionName, geography } = await regionOf(req, user);
    const { table, format } = exportName(req);
    if (table !== 'municipalities') throw notFound();
    void format;
    const program = programOf(req);
    await syncMembers(program);
    const { municipalities } = await regionTables(program, regionId, geography, options(user));
    await sendTable(
      req,
      res,
      municipalities,
      `${regionName}圏域_市町村別の状況`,
      thresholdFor(user),
    );
  });

  // ── Municipality ───────────────────────────────────────────────────────────────────────────
  router.get(
    '/reports/municipalities/:municipalityId',
    requireAuth,
    printHeading(),
    async (req, res) => {
      const user = req.user!;
      const { place } = await placeOf(req, user);
      const program = programOf(req);
      await syncMembers(program);
      const organisations = await Organisation.find(
        { municipalityId: { $eq: new Types.ObjectId(place.id) } },
        { name: 1, sector: 1 },
      )
        .sort({ name: 1 })
        .lean();
      const filters = memberFilters(
        req,
        organisations.map((o) => String(o._id)),
      );
      const page = pageOf(req);
      const now = new Date();
      const cutoff = new Date(now.getTime() - settings.stalledAfterDays * 86_400_000);
      const [tables, members, stalled] = await Promise.all([
        municipalityTables(program, place.id, options(user)),
        findMembers(memberQuery(program, [place.id], filters), page, PAGE_SIZE),
        findStalled(program, place.id, cutoff, STALLED_SHOWN),
      ]);
      const reminded = await recentReminders(
        stalled.items.map((member) => member.userId),
        program.id,
        now,
      );
      const base = `/reports/municipalities/${place.id}`;
      res.render('reports/municipality', {
        title: `研修の実施状況（${place.name}）`,
        ...viewBase(program, thresholdFor(user)),
        place,
        base,
        tables,
        members,
        memberColumns: memberColumns(program, false),
        memberCells,
        stalled,
        reminded,
        stalledAfterDays: settings.stalledAfterDays,
        canRemind: can(user, 'report.remind', {
          municipalityId: place.id,
          regionId: place.regionId,
        }),
        canRegion: can(user, 'report.region', { regionId: place.regionId }),
        filters,
        page,
        pages: Math.max(1, Math.ceil(members.total / PAGE_SIZE)),
        filterQuery: (extra: Record<string, string>) => queryString({ ...filters, ...extra }),
        organisationOptions: organisations.map((o) => ({ value: String(o._id), label: o.name })),
        sectorOptions: [...SECTORS, NO_SECTOR].map((s) => ({ value: s, label: s })),
        professionOptions: PROFESSIONS.map((p) => ({ value: p, label: p })),
        statusOptions: USER_STATUSES.map((s) => ({ value: s, label: USER_STATUS_LABELS[s] })),
        stageOptions: STAGES.map((s) => ({ value: s, label: STAGE_LABELS[s] })),
        caseLabels: CASE_STUDY_STATE_LABELS,
      });
    },
  );

  router.get(
    '/reports/municipalities/:municipalityId/export/:file',
    requireAuth,
    async (req, res) => {
      const user = req.user!;
      const { place } = await placeOf(req, user);
      const { table, format } = exportName(req);
      const program = programOf(req);
      await syncMembers(program);
      if (table === 'members' || table === 'stalled') {
        let query: Record<string, unknown>;
        if (table === 'members') {
          const organisations = await Organisation.find(
            { municipalityId: { $eq: new Types.ObjectId(place.id) } },
            { _id: 1 },
          ).lean();
          query = memberQuery(
            program,
            [place.id],
            memberFilters(
              req,
              organisations.map((o) => String(o._id)),
            ),
          );
        } else {
          const cutoff = new Date(Date.now() - settings.stalledAfterDays * 86_400_000);
          query = stalledQuery(program, place.id, cutoff);
        }
        return sendExport(res, {
          format,
          encoding: encodingOf(req),
          name: `${place.name}_${table === 'members' ? '受講者一覧' : '進んでいない方'}`,
          sheetName: table === 'members' ? '受講者一覧' : '進んでいない方',
          columns: memberColumns(program, false),
          rows: streamMembers(query),
          threshold: settings.smallCountThreshold,
        });
      }
      const tables = await municipalityTables(program, place.id, options(user));
      const found = (tables as Record<string, ReportTable>)[table];
      if (!found) throw notFound();
      await sendTable(req, res, found, `${place.name}_${found.title}`, thresholdFor(user));
    },
  );

  /** Send a stalled person a reminder mail (POST with the CSRF token). */
  router.post(
    '/reports/municipalities/:municipalityId/reminders',
    requireAuth,
    async (req, res) => {
      const user = req.user!;
      const { place } = await placeOf(req, user);
      authorize(user, 'report.remind', { municipalityId: place.id, regionId: place.regionId });
      const body = (req.body ?? {}) as Record<string, unknown>;
      const userId = body.userId;
      if (!isObjectIdString(userId)) throw notFound();
      const program = programOf(req);
      const person = await User.findOne(
        {
          _id: { $eq: new Types.ObjectId(userId) },
          municipalityId: { $eq: new Types.ObjectId(place.id) },
        },
        { name: 1, email: 1, status: 1 },
      ).lean();
      if (!person || person.status !== 'active') throw notFound();
      const member = await TrackingMember.findOne(
        { userId: { $eq: person._id }, programId: { $eq: program.id } },
        { stage: 1 },
      ).lean();
      if (member?.stage === 'certified') throw notFound();
      const last = (await recentReminders([person._id], program.id)).get(String(person._id));
      // Two clicks at the same moment: the store settles which one sends.
      const reserved = await reserveAttempt([
        { key: `reminder:${String(person._id)}:${program.id}`, max: 1 },
      ]);
      if (last || 'wait' in reserved) {
        req.flash(
          'info',
          last
            ? `${person.name} さんには${formatDate(last)}にお知らせを送っています。次に送れるのは${formatDate(nextReminderAllowed(last))}からです。`
            : `${person.name} さんへのお知らせは、いま送ったところです。`,
        );
        return res.redirect(`/reports/municipalities/${place.id}#stalled`);
      }
      // Recorded before the mail goes out, so a second click meanwhile finds it.
      await recordReminder({
        actorId: user.id,
        userId: person._id,
        municipalityId: place.id,
        programId: program.id,
        programTitle: program.title,
        ip: req.ip,
      });
      const message = reminderMessage({
        name: person.name,
        programTitle: program.title,
        link: `${config.baseUrl}/learn`,
        senderName: user.name,
      });
      await mailer.send({ to: person.email, subject: message.subject, text: message.text });
      logger.info({ userId: String(person._id) }, 'tracking: reminder sent');
      req.flash('success', `${person.name} さんにお知らせのメールを送りました。`);
      res.redirect(`/reports/municipalities/${place.id}#stalled`);
    },
  );

  async function sendTable(
    req: Request,
    res: Response,
    table: ReportTable,
    name: string,
    threshold: number | null,
  ): Promise<void> {
    const { format } = exportName(req);
    await sendExport(res, {
      format,
      encoding: encodingOf(req),
      name,
      sheetName: table.title,
      columns: table.columns,
      rows: table.rows,
      threshold: threshold ?? settings.smallCountThreshold,
    });
  }

  function viewBase(program: Program, threshold: number | null) {
    return {
      program,
      programs: catalog.programs,
      threshold,
      cellText: (cell: Parameters<typeof cellText>[0]) =>
        cellText(cell, threshold ?? settings.smallCountThreshold),
      chartData: (table: ReportTable) =>
        chartData(table, threshold ?? settings.smallCountThreshold),
      generatedAt: new Date(),
      styles: ['/public/css/reports.css'],
      scripts: ['/assets/chart.js/chart.umd.min.js', '/public/js/report-charts.js'],
    };
  }

  return router;
}

function exportName(req: Request): { table: string; format: ExportFormat } {
  const match = EXPORT_NAME.exec(String(req.params.file));
  if (!match) throw notFound();
  return { table: match[1], format: match[2] as ExportFormat };
}

function encodingOf(req: Request) {
  return req.query.encoding === 'sjis' ? ('sjis' as const) : ('utf8' as const);
}

function pageOf(req: Request): number {
  const value = req.query.page;
  return typeof value === 'string' && /^\d{1,5}$/.test(value) ? Math.max(1, Number(value)) : 1;
}

/** ?year=2025 within the offered years, else the current fiscal year. */
function yearOf(req: Request): number {
  const current = fiscalYearOf(new Date());
  const asked = Number(req.query.year);
  return Number.isInteger(asked) && asked >= current - 5 && asked <= current ? asked : current;
}

function yearOptions(): number[] {
  const current = fiscalYearOf(new Date());
  return [0, 1, 2, 3, 4, 5].map((back) => current - back);
}

/** The list filters: each value kept only when it is one of the choices offered. */
function memberFilters(req: Request, organisationIds: string[]): MemberFilters {
  const pick = (name: string, allowed: readonly string[]) => {
    const value = req.query[name];
    return typeof value === 'string' && allowed.includes(value) ? value : '';
  };
  return {
    organisationId: pick('organisationId', organisationIds),
    sector: pick('sector', [...SECTORS, NO_SECTOR]),
    profession: pick('profession', PROFESSIONS),
    status: pick('status', USER_STATUSES),
    stage: pick('stage', STAGES),
  };
}

function queryString(values: Record<string, string>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) if (value) params.set(key, value);
  const text = params.toString();
  return text ? `?${text}` : '';
}
