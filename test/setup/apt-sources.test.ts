// The test set-up's reading of the machine's apt sources: the Debian mirror it adds trixie and
// sid on is the one the machine already uses, in either file format.
import test from "ava";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { debianMirror, parseDeb822, parseOneLine, readAptSources, sourcesStanza } from "../support/apt-sources.js";

const MIRROR = "http://mirror.example.test/debian";

test("deb822: the stanza serving the release itself, not -security, -updates, deb-src or a disabled one", (t) => {
  const text = [
    "Types: deb-src\nURIs: http://src.example.test/debian\nSuites: trixie\nComponents: main\n",
    "Enabled: no\nTypes: deb\nURIs: http://off.example.test/debian\nSuites: trixie\nComponents: main\n",
    "Types: deb\nURIs: http://security.example.test/debian-security\nSuites: trixie-security\nComponents: main\n",
    `# the main archive\nTypes: deb\nURIs: ${MIRROR}/\nSuites: trixie trixie-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n`,
  ].join("\n");
  const m = debianMirror(parseDeb822(text, "debian.sources"), "trixie");
  t.deepEqual(m, { uri: MIRROR, signedBy: "/usr/share/keyrings/debian-archive-keyring.gpg" });
  t.is(
    sourcesStanza(m, "sid"),
    `Types: deb\nURIs: ${MIRROR}\nSuites: sid\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n`,
  );
});

test("one-line form with options; an inline key falls back to the archive keyring", (t) => {
  const text = `deb http://security.example.test/debian-security bookworm-security main\ndeb [arch=amd64 signed-by=/etc/apt/k.gpg] ${MIRROR} bookworm main contrib # comment\n`;
  t.deepEqual(debianMirror(parseOneLine(text, "sources.list"), "bookworm"), { uri: MIRROR, signedBy: "/etc/apt/k.gpg" });
  t.regex(
    sourcesStanza({ uri: MIRROR, signedBy: "-----BEGIN PGP PUBLIC KEY BLOCK----- ..." }, "sid"),
    /Signed-By: \/usr\/share\/keyrings\/debian-archive-keyring\.gpg/,
  );
  t.throws(() => debianMirror(parseOneLine(text, "sources.list"), "trixie"), { message: /no apt source serves Debian trixie/ });
});

test("both files read from an /etc/apt tree; the set-up's own file skipped", (t) => {
  const etc = mkdtempSync(path.join(tmpdir(), "procview-apt-"));
  mkdirSync(path.join(etc, "sources.list.d"));
  writeFileSync(path.join(etc, "sources.list"), "# nothing here\n");
  writeFileSync(
    path.join(etc, "sources.list.d", "a-procview-trixie.sources"),
    "Types: deb\nURIs: http://ours.example.test/debian\nSuites: trixie\n",
  );
  writeFileSync(path.join(etc, "sources.list.d", "debian.sources"), `Types: deb\nURIs: ${MIRROR}\nSuites: trixie\nComponents: main\n`);
  writeFileSync(path.join(etc, "sources.list.d", "other.list.disabled"), `deb http://disabled.example.test/debian trixie main\n`);
  const all = readAptSources(etc, (f) => f.endsWith("a-procview-trixie.sources"));
  t.deepEqual(
    all.map((s) => s.uris[0]),
    [MIRROR],
  );
  t.is(debianMirror(all, "trixie").uri, MIRROR);
});
