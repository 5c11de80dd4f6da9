import type { Request } from 'express';
import type { Catalog, Module, Program } from '../courses/catalog.types.js';
import { notFound } from '../lib/errors.js';

export interface Resolved {
  program: Program;
  module: Module;
}

/** Program and module from the URL, or 404. */
export function resolveModule(catalog: Catalog, req: Request): Resolved {
  const { program: programId, module: moduleId } = req.params as {
    program: string;
    module: string;
  };
  const program = catalog.program(programId);
  const module = program && catalog.module(programId, moduleId);
  if (!program || !module) throw notFound('お探しの研修の単元は見つかりませんでした。');
  return { program, module };
}
