/**
 * The one error type the app throws on purpose. `expose` says whether the message may be shown
 * to the user; unexpected errors never are.
 */
export interface AppErrorOptions {
  status: number;
  code: string;
  expose?: boolean;
  /** Field-level messages for forms: field name → message (Japanese). */
  fields?: Record<string, string>;
  cause?: unknown;
}

export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly expose: boolean;
  readonly fields: Record<string, string> | undefined;

  constructor(message: string, options: AppErrorOptions) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.status = options.status;
    this.code = options.code;
    this.expose = options.expose ?? options.status < 500;
    this.fields = options.fields;
  }
}

export const notFound = (message = 'お探しのページは見つかりませんでした。') =>
  new AppError(message, { status: 404, code: 'not_found' });

export const forbidden = (message = 'この機能を利用する権限がありません。') =>
  new AppError(message, { status: 403, code: 'forbidden' });

export const badRequest = (message = '送信された内容に誤りがあります。') =>
  new AppError(message, { status: 400, code: 'bad_request' });

export const invalidInput = (
  fields: Record<string, string>,
  message = '入力内容を確認してください。',
) => new AppError(message, { status: 422, code: 'invalid_input', fields });

export const conflict = (message: string) =>
  new AppError(message, { status: 409, code: 'conflict' });

export const tooManyRequests = (message: string) =>
  new AppError(message, { status: 429, code: 'too_many_requests' });
