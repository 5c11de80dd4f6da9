import type { Catalog, Lesson, Module, Program } from './catalog.types.js';

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** The immutable catalog with id lookups. */
export function buildCatalog(programs: Program[], dir: string): Catalog {
  const byId = new Map(programs.map((p) => [p.id, p]));
  const modules = new Map<string, Module>();
  const lessons = new Map<string, Lesson>();
  for (const program of programs) {
    for (const module of program.modules) {
      modules.set(`${program.id}/${module.id}`, module);
      for (const lesson of module.lessons)
        lessons.set(`${program.id}/${module.id}/${lesson.id}`, lesson);
    }
  }
  const catalog: Catalog = {
    programs,
    loadedAt: new Date(),
    dir,
    program: (id) => byId.get(id),
    module: (programId, moduleId) => modules.get(`${programId}/${moduleId}`),
    lesson: (programId, moduleId, lessonId) => lessons.get(`${programId}/${moduleId}/${lessonId}`),
  };
  // Freeze the data; the lookup maps are private to these closures.
  deepFreeze(programs);
  return Object.freeze(catalog);
}
