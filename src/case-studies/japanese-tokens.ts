import { createRequire } from 'node:module';
import path from 'node:path';
import type kuromoji from 'kuromoji';
import { wellFormed } from '../lib/text.js';

/** One morpheme of a text, with its place in the text as string (UTF-16) indices. */
export interface Token {
  start: number;
  end: number;
  surface: string;
  /** IPADIC part of speech and its details, e.g. 名詞 / 固有名詞 / 人名 / 姓. */
  pos: string;
  detail1: string;
  detail2: string;
  detail3: string;
  /** The word is not in the dictionary (kuromoji guessed it from the character classes). */
  unknown: boolean;
}

type Tokenizer = kuromoji.Tokenizer<kuromoji.IpadicFeatures>;

/**
 * kuromoji's IPADIC dictionary, found through the package itself so that the path is the same
 * whether this file runs from src/ (tsx) or dist/ (tsc build).
 */
function dictionaryPath(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('kuromoji/package.json')), 'dict');
}

let tokenizer: Promise<Tokenizer> | undefined;

/**
 * The tokenizer, built once on first use: building reads and unpacks ~18 MB of dictionary, takes
 * seconds and keeps a few hundred MB, so a process that never checks a case study never pays.
 * A failed build is forgotten so that the next call tries again.
 */
function loadTokenizer(): Promise<Tokenizer> {
  // The package too is loaded here, with the dictionary, not with the app.
  tokenizer ??= import('kuromoji').then(
    ({ default: kuromoji }) =>
      new Promise<Tokenizer>((resolve, reject) => {
        kuromoji.builder({ dicPath: dictionaryPath() }).build((error, built) => {
          if (error) reject(error);
          else resolve(built);
        });
      }),
  );
  tokenizer.catch(() => (tokenizer = undefined));
  return tokenizer;
}

/**
 * Tokenizing is synchronous and takes roughly 10–25 ms per 1,000 characters: a long section is
 * cut after a sentence or a line into pieces of about this size, and the event loop is let go
 * between pieces so that other requests are served meanwhile.
 */
const PIECE_LENGTH = 1000;

/** [start, end) of the pieces of `text`, cut after 。 or a line break where possible. */
function pieces(text: string): [number, number][] {
  const found: [number, number][] = [];
  for (let start = 0; start < text.length;) {
    let end = Math.min(text.length, start + PIECE_LENGTH);
    if (end < text.length) {
      const cut = Math.max(text.lastIndexOf('。', end - 1), text.lastIndexOf('\n', end - 1));
      if (cut >= start) end = cut + 1;
      else if (/[\ud800-\udbff]/.test(text[end - 1])) end--; // never halve a surrogate pair
    }
    found.push([start, end]);
    start = end;
  }
  return found;
}

/** Splits `text` into morphemes covering it from start to end, in order. */
export async function tokenize(text: string): Promise<Token[]> {
  const built = await loadTokenizer();
  const tokens: Token[] = [];
  for (const [offset, end] of pieces(text)) {
    if (offset > 0) await new Promise((resolve) => setImmediate(resolve));
    // kuromoji throws on a lone surrogate (possible in JSON input): one U+FFFD for one unit.
    const piece = wellFormed(text.slice(offset, end));
    let cursor = 0;
    for (const morpheme of built.tokenize(piece)) {
      const surface = morpheme.surface_form;
      // kuromoji counts positions in code points; surfaces are exact substrings, so walk the text.
      const start = piece.startsWith(surface, cursor) ? cursor : piece.indexOf(surface, cursor);
      if (start < 0) continue;
      cursor = start + surface.length;
      tokens.push({
        start: offset + start,
        end: offset + cursor,
        surface,
        pos: morpheme.pos,
        detail1: morpheme.pos_detail_1,
        detail2: morpheme.pos_detail_2,
        detail3: morpheme.pos_detail_3,
        unknown: morpheme.word_type === 'UNKNOWN',
      });
    }
  }
  return tokens;
}

/** Token lookups by position, for rules that need to know where words begin and end. */
export class TokenIndex {
  private readonly byStart = new Map<number, number>();
  private readonly byEnd = new Map<number, number>();

  constructor(readonly tokens: Token[]) {
    tokens.forEach((token, index) => {
      this.byStart.set(token.start, index);
      this.byEnd.set(token.end, index);
    });
  }

  /** Index of the token that begins at `offset`, if a token begins there. */
  startingAt(offset: number): number | undefined {
    return this.byStart.get(offset);
  }

  /** Index of the token that ends at `offset`, if a token ends there. */
  endingAt(offset: number): number | undefined {
    return this.byEnd.get(offset);
  }

  /** Index of the token that contains `offset`. */
  containing(offset: number): number | undefined {
    let low = 0;
    let high = this.tokens.length - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const token = this.tokens[middle];
      if (offset < token.start) high = middle - 1;
      else if (offset >= token.end) low = middle + 1;
      else return middle;
    }
    return undefined;
  }
}
