/** One numbered schema step. Versions are dense (1, 2, 3 ...) and never edited once released. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}
