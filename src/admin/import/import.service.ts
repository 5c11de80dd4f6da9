import mongoose, { Types } from 'mongoose';
import { recordAudit } from '../../audit/audit.service.js';
import type { SessionUser } from '../../auth/session-user.js';
import type { Config } from '../../config.js';
import { notFound } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import type { Mailer } from '../../mail/mailer.js';
import { invitationMessage } from '../../mail/messages.js';
import { loadGeography, type Geography } from '../../organisations/geography.js';
import { Organisation } from '../../organisations/organisation.model.js';
import { link } from '../../users/deps.js';
import { Invitation } from '../../users/invitation.model.js';
import { createInvitation, mayManageInvitation } from '../../users/invitations.service.js';
import { User } from '../../users/user.model.js';
import { decodeCsv } from './decode.js';
import {
  IMPORT_PREVIEW_HOURS,
  ImportBatch,
  type ImportBatchDocument,
} from './import-batch.model.js';
import { parseImportCsv } from './parse.js';
import { checkRows, type CheckedRow } from './validate.js';

export type UploadResult = { ok: true; batchId: string } | { ok: false; messages: string[] };

/** Reads the database facts the rows are checked against. */
async function contextFor(actor: SessionUser, emails: string[], geography: Geography) {
  const now = new Date();
  const [users, invitations, organisations] = await Promise.all([
    emails.length
      ? User.find({ email: mongoose.trusted({ $in: emails }) }, { email: 1 }).lean()
      : [],
    emails.length
      ? Invitation.find(
          {
            email: mongoose.trusted({ $in: emails }),
            acceptedAt: null,
            revokedAt: null,
            expiresAt: mongoose.trusted({ $gt: now }),
          },
          { email: 1, municipalityId: 1, roles: 1 },
        ).lean()
      : [],
    Organisation.find({}, { name: 1, municipalityId: 1 }).lean(),
  ]);
  const byMunicipality = new Map<string, Map<string, string>>();
  for (const organisation of organisations) {
    const key = String(organisation.municipalityId);
    if (!byMunicipality.has(key)) byMunicipality.set(key, new Map());
    byMunicipality.get(key)!.set(organisation.name, String(organisation._id));
  }
  return {
    actor,
    geography,
    organisations: byMunicipality,
    takenEmails: new Set(users.map((user) => user.email)),
    invitedEmails: new Set(
      invitations
        .filter((invitation) => mayManageInvitation(actor, invitation))
        .map((invitation) => invitation.email),
    ),
    unavailableEmails: new Set(
      invitations
        .filter((invitation) => !mayManageInvitation(actor, invitation))
        .map((invitation) => invitation.email),
    ),
  };
}

const emailsOf = (rows: { values: { email: string } }[]) => [
  ...new Set(
    rows.map((row) => row.values.email.normalize('NFKC').trim().toLowerCase()).filter(Boolean),
  ),
];

/**
 * Step 1: decode, parse and check the file, and keep the result as a preview batch. File-level
 * problems (not text, missing columns) are returned as messages and nothing is stored.
 */
export async function uploadImport(
  actor: SessionUser,
  file: { buffer: Buffer; originalname: string },
): Promise<UploadResult> {
  const decoded = decodeCsv(file.buffer);
  if (!decoded.ok) return { ok: false, messages: [decoded.message] };
  const parsed = await parseImportCsv(decoded.text);
  if (!parsed.ok) return { ok: false, messages: parsed.messages };
  const geography = await loadGeography();
  const rows = checkRows(parsed.rows, await contextFor(actor, emailsOf(parsed.rows), geography));
  const batch = await ImportBatch.create({
    createdBy: new Types.ObjectId(actor.id),
    status: 'preview',
    fileName: file.originalname.slice(0, 255),
    encoding: decoded.encoding,
    rows,
    rowCount: rows.length,
    errorRowCount: rows.filter((row) => row.errors.length > 0).length,
    expiresAt: new Date(Date.now() + IMPORT_PREVIEW_HOURS * 3600_000),
  });
  return { ok: true, batchId: String(batch._id) };
}

/** The importer's own batch; anyone else's (or an unknown id) is a 404. */
export async function findOwnBatch(actor: SessionUser, id: string): Promise<ImportBatchDocument> {
  if (!/^[0-9a-f]{24}$/i.test(id)) throw notFound();
  const batch = await ImportBatch.findOne({
    _id: { $eq: new Types.ObjectId(id) },
    createdBy: { $eq: new Types.ObjectId(actor.id) },
  });
  if (!batch) throw notFound();
  if (batch.status === 'preview' && batch.expiresAt && batch.expiresAt <= new Date())
    throw notFound();
  return batch;
}

export type ConfirmResult =
  | { outcome: 'completed'; users: number; organisations: number }
  | { outcome: 'invalid' } // the rows no longer pass (e.g. an address registered meanwhile)
  | { outcome: 'busy' } // already confirmed or being confirmed
  | { outcome: 'failed' };

export interface ImportDeps {
  config: Pick<Config, 'baseUrl'>;
  logger: Logger;
  mailer: Mailer;
}

/**
 * Step 2: the importer confirmed. Re-checks every row against the database as it is now, then
 * writes all or nothing: new organisations, then one invitation per row (A1's mechanism; each
 * invitee gets the invitation mail). The store has no transactions, so when a write fails midway
 * everything written so far is removed again. Mail goes out only after every write succeeded.
 */
export async function confirmImport(
  actor: SessionUser,
  batch: ImportBatchDocument,
  ip: string | undefined,
  deps: ImportDeps,
): Promise<ConfirmResult> {
  // Claim the batch, so a double click or a second tab cannot import it twice.
  const claimed = await ImportBatch.updateOne(
    { _id: { $eq: batch._id }, status: { $eq: 'preview' }, errorRowCount: { $eq: 0 } },
    { $set: { status: 'importing' } },
  );
  if (claimed.modifiedCount !== 1)
    return { outcome: batch.status === 'preview' ? 'invalid' : 'busy' };

  const stored = batch.rows as unknown as CheckedRow[];
  const geography = await loadGeography();
  const rows = checkRows(
    stored.map((row) => ({ line: row.line, values: row.values })),
    await contextFor(actor, emailsOf(stored), geography),
  );
  const errorRowCount = rows.filter((row) => row.errors.length > 0).length;
  if (errorRowCount > 0) {
    await ImportBatch.updateOne(
      { _id: { $eq: batch._id } },
      { $set: { status: 'preview', rows, errorRowCount } },
    );
    return { outcome: 'invalid' };
  }

  const createdOrganisations: Types.ObjectId[] = [];
  const createdInvitations: Types.ObjectId[] = [];
  const mails: Parameters<Mailer['send']>[0][] = [];
  try {
    const newOrganisationIds = new Map<string, Types.ObjectId>();
    for (const row of rows) {
      if (!row.newOrganisation || !row.municipalityId) continue;
      const key = `${row.municipalityId}\u0000${row.newOrganisation}`;
      if (newOrganisationIds.has(key)) continue;
      const organisation = await Organisation.create({
        name: row.newOrganisation,
        sector: 'その他',
        municipalityId: new Types.ObjectId(row.municipalityId),
      });
      createdOrganisations.push(organisation._id);
      newOrganisationIds.set(key, organisation._id);
    }
    for (const row of rows) {
      const organisationId =
        row.organisationId ??
        (row.newOrganisation
          ? String(newOrganisationIds.get(`${row.municipalityId}\u0000${row.newOrganisation}`))
          : null);
      const { invitation, token } = await createInvitation({
        email: row.email,
        roles: row.roles,
        municipalityId: row.municipalityId,
        invitedBy: actor.id,
        prefill: {
          name: row.values.name,
          nameKana: row.values.nameKana,
          profession: row.profession ?? '',
          organisationId,
          importBatchId: batch._id,
        },
      });
      createdInvitations.push(invitation._id);
      mails.push({
        to: row.email,
        ...invitationMessage({
          inviterName: actor.name,
          municipalityName: row.municipalityId
            ? (geography.byId.get(row.municipalityId)?.name ?? null)
            : null,
          roles: row.roles,
          link: link(deps.config, `/invitations/accept?token=${token}`),
          expiresAt: invitation.expiresAt,
        }),
      });
    }
  } catch (error) {
    deps.logger.error(
      { err: error, batchId: String(batch._id) },
      'import failed; removing what was written',
    );
    await compensate(createdInvitations, createdOrganisations, deps.logger);
    await ImportBatch.updateOne(
      { _id: { $eq: batch._id } },
      { $set: { status: 'failed', failure: 'write', rows: [], expiresAt: null } },
    );
    return { outcome: 'failed' };
  }

  for (const mail of mails) await deps.mailer.send(mail);
  await ImportBatch.updateOne(
    { _id: { $eq: batch._id } },
    {
      $set: {
        status: 'completed',
        rows: [],
        createdUserCount: rows.length,
        createdOrganisationCount: createdOrganisations.length,
        completedAt: new Date(),
        expiresAt: null,
      },
    },
  );
  await recordAudit({
    actorId: actor.id,
    action: 'import.completed',
    targetType: 'ImportBatch',
    targetId: batch._id,
    municipalityId: actor.roles.includes('admin') ? null : actor.municipalityId,
    ip: ip ?? null,
    details: {
      rows: rows.length,
      invitations: createdInvitations.length,
      organisationsCreated: createdOrganisations.length,
      encoding: batch.encoding,
    },
  });
  return { outcome: 'completed', users: rows.length, organisations: createdOrganisations.length };
}

/** Removes what a failed import wrote. Each removal is tried even if another fails. */
async function compensate(
  invitations: Types.ObjectId[],
  organisations: Types.ObjectId[],
  logger: Logger,
) {
  const results = await Promise.allSettled([
    invitations.length
      ? Invitation.deleteMany({ _id: mongoose.trusted({ $in: invitations }) })
      : null,
    organisations.length
      ? Organisation.deleteMany({ _id: mongoose.trusted({ $in: organisations }) })
      : null,
  ]);
  for (const result of results) {
    if (result.status === 'rejected')
      logger.error({ err: result.reason }, 'import compensation failed');
  }
}

/** Throws away an unconfirmed preview (its rows hold personal data). */
export async function discardImport(batch: ImportBatchDocument): Promise<void> {
  await ImportBatch.deleteOne({ _id: { $eq: batch._id }, status: { $eq: 'preview' } });
}
