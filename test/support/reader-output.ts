// The one-line summaries the C readers of the live tests print ("reads=N errors=N … first_x=text").

/** The number after `name=`; throws naming the line when there is none. */
export function countIn(line: string, name: string): number {
  const match = new RegExp(`\\b${name}=(\\d+)`).exec(line);
  if (!match) throw new Error(`no ${name} in reader output: ${line}`);
  return Number(match[1]);
}

/** Everything after `name=` (the last field: free text). */
export function restAfter(line: string, name: string): string {
  const at = line.indexOf(`${name}=`);
  return at < 0 ? "" : line.slice(at + name.length + 1);
}
