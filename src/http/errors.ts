import type { ErrorRequestHandler, RequestHandler } from 'express';
import mongoose from 'mongoose';
import { AppError, notFound } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';

export const notFoundHandler: RequestHandler = (_req, _res, next) => {
  next(notFound());
};

const titles: Record<number, string> = {
  400: '送信内容に誤りがあります',
  403: 'アクセスできません',
  404: 'ページが見つかりません',
  413: 'ファイルが大きすぎます',
  422: '入力内容を確認してください',
  429: 'しばらくしてからお試しください',
  500: 'システムエラーが発生しました',
  503: 'ただいま利用できません',
};

/** Turns anything thrown into an AppError, keeping the status of errors from libraries. */
function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof mongoose.Error.CastError) return notFound();
  const status =
    (error as { status?: unknown; statusCode?: unknown }).status ??
    (error as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code = (error as { code?: unknown }).code;
    const message =
      code === 'EBADCSRFTOKEN'
        ? 'ページの有効期限が切れたか、不正な送信です。ページを読み込み直してから、もう一度お試しください。'
        : (titles[status] ?? '送信内容に誤りがあります');
    return new AppError(message, {
      status,
      code: typeof code === 'string' ? code : 'client_error',
      cause: error,
    });
  }
  return new AppError('システムエラーが発生しました。時間をおいて、もう一度お試しください。', {
    status: 500,
    code: 'internal',
    expose: false,
    cause: error,
  });
}

/** The one final error handler: Japanese HTML pages or JSON, no internals shown in production. */
export function errorHandler(logger: Logger, showDetails: boolean): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    const appError = toAppError(error);
    if (appError.status >= 500) {
      logger.error({ err: error, reqId: req.id }, 'request failed');
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    const message = appError.expose ? appError.message : titles[500];
    res.status(appError.status);
    const detail =
      showDetails && appError.status >= 500 && error instanceof Error ? error.stack : undefined;
    if (req.accepts(['html', 'json']) === 'json') {
      res.json({
        error: { code: appError.code, message, fields: appError.fields, requestId: req.id },
      });
      return;
    }
    // A request refused before the app's locals were set (a malformed or oversized body fails
    // in the body parser) still gets the page frame: the layout reads currentPath.
    res.locals.currentPath ??= req.path;
    const view =
      appError.status === 404
        ? 'errors/404'
        : appError.status >= 500
          ? 'errors/500'
          : 'errors/error';
    res.render(view, {
      title: titles[appError.status] ?? titles[400],
      message,
      requestId: req.id,
      detail,
    });
  };
}
