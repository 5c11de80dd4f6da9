import { randomUUID } from 'node:crypto';
import { Types } from 'mongoose';
import ExcelJS from 'exceljs';
import { parse } from 'csv-parse/sync';
import type { Response } from 'supertest';
import { Certificate } from '../../src/certificates/certificate.model.js';
import type { Program } from '../../src/courses/catalog.types.js';
import { LearnerProgress } from '../../src/learning/learner-progress.model.js';
import { Municipality } from '../../src/organisations/municipality.model.js';
import { Organisation, type Sector } from '../../src/organisations/organisation.model.js';
import type { Role } from '../../src/users/roles.js';
import { User, type UserStatus } from '../../src/users/user.model.js';
import { buildUser } from '../helpers/factories.js';

let serial = 1;

/** An organisation of that sector in the named municipality (created once per name). */
export async function organisationIn(municipalityName: string, sector: Sector) {
  const municipality = await Municipality.findOne({ name: { $eq: municipalityName } }).lean();
  const name = `${municipalityName} ${sector}の機関`;
  return (
    (await Organisation.findOne({ name: { $eq: name } })) ??
    (await Organisation.create({ name, sector, municipalityId: municipality!._id }))
  );
}

export interface PersonOptions {
  municipality: string;
  sector?: Sector | null;
  status?: UserStatus;
  roles?: Role[];
  name?: string;
  /** 'certified' adds full progress and a valid certificate; 'revoked' a revoked one. */
  stage?: 'none' | 'training' | 'certified' | 'revoked';
  issuedAt?: Date;
}

/** A staff member with an organisation, progress and certificate as asked. */
export async function person(program: Program, options: PersonOptions) {
  const { user, password } = await buildUser({
    municipality: options.municipality,
    status: options.status ?? 'active',
    roles: options.roles ?? ['trainee'],
    name: options.name,
  });
  if (options.sector) {
    const organisation = await organisationIn(options.municipality, options.sector);
    await User.updateOne({ _id: user._id }, { $set: { organisationId: organisation._id } });
    user.organisationId = organisation._id;
  }
  const stage = options.stage ?? 'none';
  const lessonIds = program.modules.flatMap((m) => m.lessons.map((lesson) => lesson.id));
  const quizIds = program.modules.flatMap((m) => (m.quiz ? [m.quiz.id] : []));
  if (stage !== 'none') {
    const full = stage === 'certified';
    await LearnerProgress.create({
      userId: user._id,
      programId: program.id,
      municipalityId: user.municipalityId,
      regionId: user.regionId,
      readLessons: full ? lessonIds : lessonIds.slice(0, 3),
      quizzes: Object.fromEntries(
        (full ? quizIds : quizIds.slice(0, 1)).map((id) => [id, { passed: true, attempts: 1 }]),
      ),
    });
  }
  if (stage === 'certified' || stage === 'revoked') {
    const issuedAt = options.issuedAt ?? new Date();
    const number = `T-${serial}`;
    await Certificate.create({
      number,
      fiscalYear: 2000 + serial,
      serial: serial++,
      userId: user._id,
      programId: program.id,
      name: user.name,
      municipalityId: user.municipalityId,
      regionId: user.regionId,
      organisationId: user.organisationId ?? null,
      programTitle: program.title,
      completedAt: issuedAt,
      issuedAt,
      verificationCode: randomUUID(),
      valid: stage === 'certified',
      revokedAt: stage === 'revoked' ? new Date() : null,
    });
  }
  return { user, password };
}

export const oid = (id: unknown) => new Types.ObjectId(String(id));

/** Rows of a CSV export (UTF-8 with BOM), header first. */
export function csvRows(res: Response): string[][] {
  const text = (res.body as Buffer).toString('utf8');
  if (!text.startsWith('\uFEFF')) throw new Error('no BOM');
  return parse(text, { bom: true });
}

/** supertest parser that keeps the body as bytes. */
export function binary(res: Response, done: (error: Error | null, body: Buffer) => void): void {
  const stream = res as unknown as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  stream.on('end', () => done(null, Buffer.concat(chunks)));
}

/** The first sheet of an xlsx export. */
export async function xlsxSheet(body: Buffer) {
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.load(body as unknown as ArrayBuffer);
  return workbook.worksheets[0];
}

/** A row of a table export by its first label(s). */
export function rowOf(rows: string[][], ...labels: string[]): Record<string, string> {
  const header = rows[0];
  const row = rows.find((r) => labels.every((label, i) => r[i] === label));
  if (!row) throw new Error(`no row ${labels.join('/')}`);
  return Object.fromEntries(header.map((h, i) => [h, row[i]]));
}
