import { Readable } from 'node:stream';
import { fileTypeFromBuffer } from 'file-type';
import { GridFSBucket, type GridFSBucketReadStream } from 'mongodb';
import mongoose, { Types } from 'mongoose';
import type { AttachmentAttrs } from './case-study.model.js';

/** The types a case study may carry, decided from the bytes. Anything else is refused. */
const ACCEPTED: Record<string, string> = {
  pdf: 'PDF',
  docx: 'Word',
  xlsx: 'Excel',
  png: 'PNG',
  jpg: 'JPEG',
};

/** What file-type may report that we name in the refusal, so the trainee knows why. */
const KNOWN_REFUSED: Record<string, string> = {
  docm: 'マクロを含むWord文書（.docm）',
  dotm: 'マクロを含むWordテンプレート',
  xlsm: 'マクロを含むExcelブック（.xlsm）',
  xltm: 'マクロを含むExcelテンプレート',
  pptm: 'マクロを含むPowerPointファイル',
  exe: '実行ファイル',
  elf: '実行ファイル',
  macho: '実行ファイル',
  msi: 'インストーラー',
  zip: 'ZIP圧縮ファイル',
};

export const ACCEPTED_TYPES_TEXT = 'PDF、Word（.docx）、Excel（.xlsx）、PNG、JPEG';

export type TypeCheck = { ok: true; mime: string; ext: string } | { ok: false; reason: string };

/** Decides the file's type from its content; the name and the browser's claim are ignored. */
export async function checkAttachmentType(bytes: Buffer): Promise<TypeCheck> {
  if (bytes.length === 0) return { ok: false, reason: 'ファイルが空です。' };
  const detected = await fileTypeFromBuffer(bytes);
  if (detected && ACCEPTED[detected.ext]) {
    return { ok: true, mime: detected.mime, ext: detected.ext };
  }
  const what = detected
    ? (KNOWN_REFUSED[detected.ext] ?? `${detected.ext.toUpperCase()}形式のファイル`)
    : '種類を判別できないファイル';
  return {
    ok: false,
    reason: `このファイルの中身は${what}です。添付できるのは${ACCEPTED_TYPES_TEXT}だけです。`,
  };
}

/**
 * The original file name for display: the last path part only, without control characters,
 * at most 120 characters. Japanese names stay as they are. Never used as a path.
 */
export function displayName(original: string): string {
  const lastPart = original.split(/[/\\]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex -- removing control characters is the point
  const cleaned = lastPart.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e]/g, '');
  const trimmed = cleaned.normalize('NFC').trim();
  return Array.from(trimmed).slice(0, 120).join('') || 'ファイル';
}

const BUCKET = 'case_study_files';

function bucket(): GridFSBucket {
  const db = mongoose.connection.db;
  if (!db) throw new Error('the database is not connected');
  return new GridFSBucket(db, { bucketName: BUCKET });
}

/** Stores the bytes in GridFS under a neutral name (the display name stays in the record). */
export async function storeAttachment(
  caseStudyId: Types.ObjectId,
  bytes: Buffer,
  type: { mime: string; ext: string },
  name: string,
): Promise<AttachmentAttrs> {
  const upload = bucket().openUploadStream(`case-study-${String(caseStudyId)}`, {
    metadata: { caseStudyId, mime: type.mime },
  });
  await new Promise<void>((resolve, reject) => {
    upload.once('finish', () => resolve());
    upload.once('error', reject);
    Readable.from([bytes]).pipe(upload);
  });
  return {
    fileId: upload.id,
    name,
    mime: type.mime,
    ext: type.ext,
    size: bytes.length,
    uploadedAt: new Date(),
  };
}

export function openAttachment(fileId: Types.ObjectId): GridFSBucketReadStream {
  return bucket().openDownloadStream(fileId);
}

/** Whether the GridFS file still exists (the retention sweep may have removed it). */
export async function attachmentExists(fileId: Types.ObjectId): Promise<boolean> {
  const files = await bucket().find({ _id: fileId }).limit(1).toArray();
  return files.length > 0;
}

/** Deletes a GridFS file; an already missing one is not an error. */
export async function deleteAttachment(fileId: Types.ObjectId): Promise<void> {
  try {
    await bucket().delete(fileId);
  } catch (error) {
    if (!/File not found/i.test((error as Error).message)) throw error;
  }
}

/** Content-Disposition for a download: an ASCII fallback and the real name per RFC 5987. */
export function contentDisposition(name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_') || 'file';
  const encoded = encodeURIComponent(name).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
