// A two-column table a person reads at a glance: one check or fact per row.
export interface Row {
  label: string;
  value: string;
  ok?: boolean;
}

export function renderTable(rows: Row[]): string {
  const width = Math.max(...rows.map((r) => r.label.length));
  return rows.map((r) => `${r.ok === undefined ? "    " : r.ok ? "ok  " : "FAIL"} ${r.label.padEnd(width)}  ${r.value}`).join("\n");
}
