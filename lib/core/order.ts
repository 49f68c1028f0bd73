/**
 * Code-unit order, the same on every machine. `localeCompare` follows the locale of LANG, so
 * output sorted with it could differ between a laptop and CI, and names would sort differently
 * (`a-b` and `ab` are equal at its first level).
 */
export function compareText(a: string, b: string): number {
    return a < b ? -1 : a > b ? 1 : 0;
}
