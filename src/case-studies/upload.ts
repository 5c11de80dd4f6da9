import express, { type Request, type RequestHandler, type Response } from 'express';
import multer from 'multer';

/** Largest form or JSON body of the case-study routes (ten sections of 50,000 characters fit). */
export const CASE_STUDY_BODY_LIMIT = '2mb';
/** Largest single text field of the multipart form. */
const FIELD_LIMIT_BYTES = 1024 * 1024;

export type UploadProblem =
  | { kind: 'text_too_large' }
  | { kind: 'file_too_large'; fileName: string }
  | { kind: 'too_many_files' }
  | { kind: 'malformed' };

const formParser = express.urlencoded({
  extended: false,
  limit: CASE_STUDY_BODY_LIMIT,
  parameterLimit: 200,
});
const jsonParser = express.json({ limit: CASE_STUDY_BODY_LIMIT });

function run(handler: RequestHandler, req: Request, res: Response): Promise<unknown> {
  return new Promise((resolve) => {
    void handler(req, res, (error?: unknown) => resolve(error));
  });
}

const isTooLarge = (error: unknown) =>
  (error as { type?: unknown } | null)?.type === 'entity.too.large';

/**
 * The case-study form's body: URL-encoded, JSON or multipart (text and files together), with
 * this route's own limits (the app-wide parsers skip these routes, src/http/session.ts). Problems
 * come back as values so the page can say what happened and keep what was typed.
 */
export function caseStudyBodyReader(limits: { maxFileBytes: number; maxFiles: number }) {
  const upload = multer({
    storage: multer.memoryStorage(),
    defParamCharset: 'utf8',
    limits: {
      fileSize: limits.maxFileBytes,
      files: limits.maxFiles,
      fieldSize: FIELD_LIMIT_BYTES,
      fields: 100,
      parts: 120,
    },
  }).array('attachments', limits.maxFiles);

  return async (req: Request, res: Response): Promise<UploadProblem | null> => {
    for (const parser of [formParser, jsonParser]) {
      const error = await run(parser, req, res);
      if (error) {
        if (isTooLarge(error)) return { kind: 'text_too_large' };
        throw error instanceof Error ? error : new Error('body parsing failed');
      }
    }
    const error = await run(upload, req, res);
    if (!error) return null;
    if (error instanceof multer.MulterError) {
      switch (error.code) {
        case 'LIMIT_FIELD_VALUE':
          return { kind: 'text_too_large' };
        case 'LIMIT_FILE_SIZE':
          return {
            kind: 'file_too_large',
            fileName: (error as { filename?: string }).filename ?? '',
          };
        case 'LIMIT_FILE_COUNT':
        case 'LIMIT_UNEXPECTED_FILE':
          return { kind: 'too_many_files' };
        default:
          return { kind: 'malformed' };
      }
    }
    // busboy's errors (a malformed part header, a cut-off body) are the client's.
    return { kind: 'malformed' };
  };
}

/** The autosave's body (JSON, or a form), with the same limit. Returns false when it was too large. */
export async function readJsonBody(req: Request, res: Response): Promise<boolean> {
  const error = (await run(jsonParser, req, res)) ?? (await run(formParser, req, res));
  if (!error) return true;
  if (isTooLarge(error)) return false;
  throw error instanceof Error ? error : new Error('body parsing failed');
}
