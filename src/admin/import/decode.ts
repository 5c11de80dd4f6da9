import iconv from 'iconv-lite';

export type CsvEncoding = 'utf-8' | 'utf-8-bom' | 'shift_jis';

export const ENCODING_LABELS: Record<CsvEncoding, string> = {
  'utf-8': 'UTF-8',
  'utf-8-bom': 'UTF-8（BOM付き）',
  shift_jis: 'Shift_JIS',
};

export type DecodeResult =
  { ok: true; text: string; encoding: CsvEncoding } | { ok: false; message: string };

// Control characters other than tab, line feed and carriage return do not occur in a CSV file.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/**
 * Decodes an uploaded file as text, whatever its name says: UTF-8 with a BOM, valid UTF-8, or
 * else Shift_JIS as Excel saves it (decoded as cp932, Microsoft's superset, so 髙 and ① work).
 * Anything that is not text in one of these (an .xlsx, an image) is refused.
 */
export function decodeCsv(buffer: Buffer): DecodeResult {
  if (buffer.length === 0) return { ok: false, message: 'ファイルが空です。' };
  let text: string;
  let encoding: CsvEncoding;
  if (buffer.length >= 3 && buffer[0] === 0xef && buffer[1] === 0xbb && buffer[2] === 0xbf) {
    const decoded = tryUtf8(buffer.subarray(3));
    if (decoded === null) return notText();
    text = decoded;
    encoding = 'utf-8-bom';
  } else {
    const decoded = tryUtf8(buffer);
    if (decoded !== null) {
      text = decoded;
      encoding = 'utf-8';
    } else {
      text = iconv.decode(buffer, 'cp932');
      encoding = 'shift_jis';
      if (text.includes('\ufffd')) return notText();
    }
  }
  if (CONTROL.test(text)) return notText();
  return { ok: true, text, encoding };
}

function tryUtf8(buffer: Buffer): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(buffer);
  } catch {
    return null;
  }
}

function notText(): DecodeResult {
  return {
    ok: false,
    message:
      'CSVファイルとして読み取れませんでした。Excelの「名前を付けて保存」で「CSV UTF-8（コンマ区切り）」または「CSV（コンマ区切り）」を選んで保存したファイルを指定してください。',
  };
}
