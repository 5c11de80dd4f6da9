import { Router, type Request, type Response } from 'express';
import multer from 'multer';
import { requirePermission } from '../../auth/middleware.js';
import { csrf } from '../../http/session.js';
import { loadGeography } from '../../organisations/geography.js';
import { ROLE_LABELS } from '../../users/roles.js';
import { IMPORT_COLUMNS, MAX_CELL_CHARACTERS, MAX_IMPORT_ROWS, templateCsv } from './columns.js';
import { ENCODING_LABELS, type CsvEncoding } from './decode.js';
import { IMPORT_PREVIEW_HOURS } from './import-batch.model.js';
import {
  confirmImport,
  discardImport,
  findOwnBatch,
  uploadImport,
  type ImportDeps,
} from './import.service.js';
import type { CheckedRow } from './validate.js';

const BASE = '/admin/users/import';
export const MAX_UPLOAD_BYTES = 1024 * 1024;

/** Multer with memory storage and hard limits; its errors become a message on the form. */
const upload = multer({
  storage: multer.memoryStorage(),
  limits: { fileSize: MAX_UPLOAD_BYTES, files: 1, fields: 5, parts: 6 },
}).single('file');

function receiveFile(req: Request, res: Response): Promise<string | null> {
  return new Promise((resolve, reject) => {
    upload(req, res, (error: unknown) => {
      if (!error) return resolve(null);
      if (error instanceof multer.MulterError) {
        return resolve(
          error.code === 'LIMIT_FILE_SIZE'
            ? 'ファイルが大きすぎます。1MB以下のファイルを指定してください。'
            : 'ファイルを受け取れませんでした。CSVファイルを1つだけ指定して、もう一度お試しください。',
        );
      }
      reject(error instanceof Error ? error : new Error('upload failed'));
    });
  });
}

const importers = requirePermission('user.import');

/** 利用者の一括登録 (CSV): upload → preview (kept on the server) → confirm. */
export function importRouter(deps: ImportDeps): Router {
  const router = Router();

  router.get(BASE, importers, async (req, res) => {
    await renderUpload(req, res, []);
  });

  router.get(`${BASE}/template.csv`, importers, (req, res) => {
    res.attachment('tsunagu-users-template.csv');
    res.type('text/csv; charset=utf-8');
    res.send(templateCsv());
  });

  router.post(
    BASE,
    importers,
    async (req, res, next) => {
      const uploadProblem = await receiveFile(req, res);
      // The global CSRF check skips this multipart route (src/http/session.ts): check the token
      // here, right after multer has parsed the form, before acting on anything.
      if (!csrf.isRequestValid(req)) return next(csrf.invalidCsrfTokenError);
      if (uploadProblem) return renderUpload(req, res, [uploadProblem], 422);
      next();
    },
    async (req, res) => {
      if (!req.file) return renderUpload(req, res, ['CSVファイルを選択してください。'], 422);
      const result = await uploadImport(req.user!, req.file);
      if (!result.ok) return renderUpload(req, res, result.messages, 422);
      res.redirect(303, `${BASE}/${result.batchId}`);
    },
  );

  router.get(`${BASE}/:id`, importers, async (req, res) => {
    const batch = await findOwnBatch(req.user!, req.params.id as string);
    renderBatch(req, res, batch);
  });

  router.post(`${BASE}/:id/confirm`, importers, async (req, res) => {
    const batch = await findOwnBatch(req.user!, req.params.id as string);
    const result = await confirmImport(req.user!, batch, req.ip, deps);
    switch (result.outcome) {
      case 'completed':
        req.flash(
          'success',
          `${result.users}人に招待メールを送りました。${result.organisations > 0 ? `所属機関を${result.organisations}件登録しました。` : ''}`,
        );
        break;
      case 'invalid':
        req.flash(
          'error',
          '確認中に内容が変わったため、登録できない行があります。各行のメッセージをご確認ください。',
        );
        break;
      case 'busy':
        req.flash('info', 'このファイルはすでに登録の処理をしました。');
        break;
      case 'failed':
        req.flash(
          'error',
          '登録の途中で問題が起きたため、すべて取り消しました（誰も登録されていません）。時間をおいて、もう一度お試しください。',
        );
        break;
    }
    res.redirect(303, `${BASE}/${String(batch._id)}`);
  });

  router.post(`${BASE}/:id/discard`, importers, async (req, res) => {
    const batch = await findOwnBatch(req.user!, req.params.id as string);
    await discardImport(batch);
    req.flash('info', '読み込んだ内容を破棄しました。');
    res.redirect(303, BASE);
  });

  return router;
}

async function renderUpload(
  req: Request,
  res: Response,
  messages: string[],
  status = 200,
): Promise<void> {
  const user = req.user!;
  const isAdmin = user.roles.includes('admin');
  const geography = await loadGeography();
  res.status(status).render('admin/import/upload', {
    title: '利用者の一括登録',
    messages,
    columns: IMPORT_COLUMNS,
    maxRows: MAX_IMPORT_ROWS,
    maxCellCharacters: MAX_CELL_CHARACTERS,
    isAdmin,
    ownMunicipalityName: user.municipalityId
      ? (geography.byId.get(user.municipalityId)?.name ?? null)
      : null,
  });
}

function renderBatch(
  req: Request,
  res: Response,
  batch: Awaited<ReturnType<typeof findOwnBatch>>,
): void {
  const rows = batch.rows as unknown as CheckedRow[];
  res.render('admin/import/preview', {
    title: batch.status === 'completed' ? '一括登録の結果' : '一括登録の確認',
    batch: {
      id: String(batch._id),
      status: batch.status,
      fileName: batch.fileName,
      encodingLabel: ENCODING_LABELS[batch.encoding as CsvEncoding] ?? batch.encoding,
      rowCount: batch.rowCount,
      errorRowCount: batch.errorRowCount,
      createdUserCount: batch.createdUserCount,
      createdOrganisationCount: batch.createdOrganisationCount,
    },
    rows,
    newOrganisations: [
      ...new Set(
        rows
          .filter((row) => row.newOrganisation)
          .map((row) => `${row.values.municipality}：${row.newOrganisation}`),
      ),
    ],
    columns: IMPORT_COLUMNS,
    roleLabels: ROLE_LABELS,
    previewHours: IMPORT_PREVIEW_HOURS,
  });
}
