// The machine's own Debian mirror, as its apt sources name it: the test set-up adds suites
// (trixie, sid) on that same mirror instead of writing a host name of its own.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";

export interface AptSource {
  file: string;
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
  signedBy?: string;
}

/** deb822 (`.sources`): stanzas separated by blank lines, `Key: value` fields, `#` comments. */
export function parseDeb822(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const line of stanza.split("\n")) {
      if (/^\s*#/.test(line) || line.trim() === "") continue;
      if (/^\s/.test(line) && last) {
        fields.set(last, `${fields.get(last)} ${line.trim()}`); // continuation line
        continue;
      }
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
      if (!m) continue;
      last = m[1]!.toLowerCase();
      fields.set(last, m[2]!.trim());
    }
    if (!fields.has("uris") || /^(no|false)$/i.test(fields.get("enabled") ?? "yes")) continue;
    const words = (k: string): string[] => (fields.get(k) ?? "").split(/\s+/).filter(Boolean);
    out.push({
      file,
      types: words("types"),
      uris: words("uris"),
      suites: words("suites"),
      components: words("components"),
      signedBy: fields.get("signed-by"),
    });
  }
  return out;
}

/** One-line form (`.list`, sources.list): `deb [opt=value ...] URI suite component...`. */
export function parseOneLine(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*$/, "").trim();
    const m = /^(deb|deb-src)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const options = new Map(
      (m[2] ?? "")
        .split(/\s+/)
        .filter(Boolean)
        .map((o) => o.split("=", 2) as [string, string]),
    );
    out.push({
      file,
      types: [m[1]!],
      uris: [m[3]!],
      suites: [m[4]!],
      components: m[5]!.split(/\s+/).filter(Boolean),
      signedBy: options.get("signed-by"),
    });
  }
  return out;
}

/** Every source apt reads: /etc/apt/sources.list and sources.list.d/*.{list,sources}, less files `skip` says are ours. */
export function readAptSources(etcApt = "/etc/apt", skip: (file: string) => boolean = () => false): AptSource[] {
  const files: string[] = [];
  if (existsSync(path.join(etcApt, "sources.list"))) files.push(path.join(etcApt, "sources.list"));
  const dir = path.join(etcApt, "sources.list.d");
  if (existsSync(dir)) for (const f of readdirSync(dir).sort()) files.push(path.join(dir, f));
  const out: AptSource[] = [];
  for (const file of files) {
    if (skip(file)) continue;
    if (file.endsWith(".sources")) out.push(...parseDeb822(readFileSync(file, "utf8"), file));
    else if (file.endsWith(".list") || file.endsWith("sources.list")) out.push(...parseOneLine(readFileSync(file, "utf8"), file));
  }
  return out;
}

export interface DebianMirror {
  uri: string;
  signedBy?: string;
}

/**
 * The Debian archive the machine installs its own release from: the first binary source that
 * serves the release's codename itself (not -security or -updates, which live elsewhere or
 * carry only some packages) over http(s).
 */
export function debianMirror(sources: readonly AptSource[], codename: string): DebianMirror {
  for (const s of sources) {
    if (!s.types.includes("deb") || !s.suites.includes(codename)) continue;
    const uri = s.uris.find((u) => /^https?:\/\//.test(u));
    if (uri) return { uri: uri.replace(/\/+$/, ""), signedBy: s.signedBy };
  }
  throw new Error(
    `no apt source serves Debian ${codename} over http(s) (read /etc/apt/sources.list and /etc/apt/sources.list.d/); the test set-up adds suites on the machine's own mirror`,
  );
}

/** VERSION_CODENAME from os-release. */
export function osCodename(osRelease = "/etc/os-release"): string {
  const m = /^VERSION_CODENAME=["']?([a-z]+)["']?$/m.exec(readFileSync(osRelease, "utf8"));
  if (!m) throw new Error(`${osRelease} has no VERSION_CODENAME`);
  return m[1]!;
}

export const DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";

/** A deb822 stanza for `suite` on the machine's mirror. */
export function sourcesStanza(mirror: DebianMirror, suite: string): string {
  return [
    "Types: deb",
    `URIs: ${mirror.uri}`,
    `Suites: ${suite}`,
    "Components: main",
    // A key given inline (a PGP block) is the machine's business; the archive keyring signs Debian's suites.
    `Signed-By: ${mirror.signedBy?.startsWith("/") ? mirror.signedBy : DEBIAN_KEYRING}`,
    "",
  ].join("\n");
}
