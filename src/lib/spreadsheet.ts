/**
 * A cell that a spreadsheet would run as a formula ("CSV injection"), made inert. Following
 * OWASP's guidance, a cell starting with =, +, -, @, a tab or a carriage return gets a leading
 * apostrophe, so the spreadsheet takes the cell as text. The full-width ＝ ＋ － ＠ count too: a
 * Japanese Excel turns them into their ASCII forms when it reads a cell. Everything else is
 * returned unchanged.
 * Quoting for CSV is a separate step (the writer's job).
 */
export function neutraliseSpreadsheetCell(value: string): string {
  return /^[=+\-@\t\r＝＋－＠]/.test(value) ? `'${value}` : value;
}
