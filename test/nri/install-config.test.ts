// containerd's config as the installer and doctor read it, and the installer's edits: every
// TOML form of NRI's settings, each line's default, minimal edits checked before writing.
import test from "ava";
import { parse } from "smol-toml";
import {
  ConfigError,
  editNri,
  effectiveNri,
  nriTable,
  parseContainerdConfig,
  parseContainerdVersion,
} from "../../install/containerd-config.js";

const cfg = (text: string) => parseContainerdConfig(text, "config.toml");
const nriOf = (text: string, line: "1.7" | "2") => effectiveNri([nriTable(cfg(text).value)], line);

/** The lines of `after` that are not in `before` (a minimal edit changes few). */
function changedLines(before: string, after: string): string[] {
  const old = new Set(before.split("\n"));
  return after.split("\n").filter((l) => !old.has(l));
}

test("each line's default: NRI off on 1.7 unless disable = false, on on 2 unless disable = true", (t) => {
  t.false(nriOf("version = 2\n", "1.7").enabled);
  t.true(nriOf("version = 3\n", "2").enabled);
  t.regex(nriOf("version = 3\n", "2").because, /default is on/);
  t.true(nriOf('version = 2\n[plugins."io.containerd.nri.v1.nri"]\n  disable = false\n', "1.7").enabled);
  t.false(nriOf("version = 3\n[plugins.'io.containerd.nri.v1.nri']\n  disable = true\n", "2").enabled);
  const paths = nriOf("version = 3\n[plugins.'io.containerd.nri.v1.nri']\n  plugin_path = '/x'\n", "2");
  t.is(paths.pluginPath, "/x");
  t.is(paths.socketPath, "/var/run/nri/nri.sock");
  t.deepEqual(effectiveNri([{ disable: false }, { disable: true }], "1.7").enabled, false, "an import overrides the file");
});

test("NRI's settings found in every TOML form: double or single quotes, dotted keys under [plugins] or at the top, inline table", (t) => {
  const forms = [
    `version = 3\n[plugins."io.containerd.nri.v1.nri"]\n  disable = true\n  plugin_path = "/p"\n`,
    `version = 3\n[plugins.'io.containerd.nri.v1.nri']\n  disable = true\n  plugin_path = '/p'\n`,
    `version = 3\n[plugins]\n  'io.containerd.nri.v1.nri'.disable = true\n  "io.containerd.nri.v1.nri".plugin_path = "/p"\n`,
    `version = 3\nplugins.'io.containerd.nri.v1.nri'.disable = true\nplugins.'io.containerd.nri.v1.nri'.plugin_path = '/p'\n`,
    `version = 3\n[plugins]\n  'io.containerd.nri.v1.nri' = { disable = true, plugin_path = '/p' }\n`,
    `version = 3\n[plugins.'io.containerd.nri.v1'.nri]\n  disable = true\n  plugin_path = '/p'\n`.replace(
      "'io.containerd.nri.v1'.nri",
      "'io.containerd.nri.v1.nri'",
    ),
  ];
  for (const text of forms) {
    const nri = nriOf(text, "2");
    t.false(nri.enabled, text);
    t.is(nri.pluginPath, "/p", text);
    const after = editNri(cfg(text), { disable: false });
    t.deepEqual(changedLines(text, after).length, 1, `one line changed:\n${after}`);
    t.true(nriOf(after, "2").enabled);
    t.is(nriOf(after, "2").pluginPath, "/p");
    t.is(editNri(cfg(after), { disable: false }), after, "nothing left to change");
  }
});

test("a missing key goes where the table's keys are: after the [table]'s last key, with the dotted prefix, inside the braces", (t) => {
  const table = `version = 2\n# keep me\n[plugins.'io.containerd.nri.v1.nri'] # and me\n    socket_path = '/s'   # aligned\n[plugins.'x']\n  y = 1\n`;
  t.is(
    editNri(cfg(table), { disable: false }),
    `version = 2\n# keep me\n[plugins.'io.containerd.nri.v1.nri'] # and me\n    socket_path = '/s'   # aligned\n    disable = false\n[plugins.'x']\n  y = 1\n`,
  );
  const dotted = `version = 2\n[plugins]\n  'io.containerd.nri.v1.nri'.socket_path = '/s'\n  [plugins.'x']\n    y = 1\n`;
  t.is(
    editNri(cfg(dotted), { disable: false, plugin_path: "/p" }),
    `version = 2\n[plugins]\n  'io.containerd.nri.v1.nri'.socket_path = '/s'\n  'io.containerd.nri.v1.nri'.disable = false\n  'io.containerd.nri.v1.nri'.plugin_path = "/p"\n  [plugins.'x']\n    y = 1\n`,
  );
  const inline = `version = 2\n[plugins]\n  "io.containerd.nri.v1.nri" = { socket_path = "/s" }\n`;
  t.is(
    editNri(cfg(inline), { disable: false }),
    `version = 2\n[plugins]\n  "io.containerd.nri.v1.nri" = { socket_path = "/s", disable = false }\n`,
  );
  const empty = `version = 2\n[plugins]\n  "io.containerd.nri.v1.nri" = {}\n`;
  t.is(editNri(cfg(empty), { disable: false }), `version = 2\n[plugins]\n  "io.containerd.nri.v1.nri" = { disable = false }\n`);
  const none = `version = 2\n\n[plugins]\n  [plugins."io.containerd.grpc.v1.cri"]\n    x = 1`;
  const appended = editNri(cfg(none), { disable: false });
  t.true(appended.startsWith(none + "\n"));
  t.regex(appended, /\n\[plugins\."io\.containerd\.nri\.v1\.nri"\]\n {2}disable = false\n$/);
  t.deepEqual(parse(appended), {
    version: 2,
    plugins: { "io.containerd.grpc.v1.cri": { x: 1 }, "io.containerd.nri.v1.nri": { disable: false } },
  });
});

test("an edit that would break the config or change anything else is refused, with the reason", (t) => {
  // plugins as an inline table cannot get a [plugins.'...'] table after it.
  const inlinePlugins = `version = 2\nplugins = { "io.containerd.grpc.v1.cri" = { x = 1 } }\n`;
  t.throws(() => editNri(cfg(inlinePlugins), { disable: false }), { instanceOf: ConfigError, message: /without breaking it.*by hand/ });
  t.throws(() => cfg("version = 2\n[a]\nx = 1\n[a]\ny = 2\n"), { instanceOf: ConfigError, message: /not valid TOML/ });
  t.throws(() => cfg("version = 2\nx = \n"), { instanceOf: ConfigError, message: /^config\.toml:\d+:\d+: not valid TOML/ });
});

test("containerd --version read for both lines; older than 1.7 has no NRI", (t) => {
  t.deepEqual(parseContainerdVersion("containerd github.com/containerd/containerd 1.7.24~ds1 1.7.24~ds1-6+deb13u1"), {
    version: "1.7.24~ds1",
    line: "1.7",
  });
  t.deepEqual(parseContainerdVersion("containerd github.com/containerd/containerd/v2 2.1.9+unknown "), {
    version: "2.1.9+unknown",
    line: "2",
  });
  t.deepEqual(parseContainerdVersion("containerd containerd.io v2.2.0 abc"), { version: "v2.2.0", line: "2" });
  t.throws(() => parseContainerdVersion("containerd github.com/containerd/containerd 1.6.20~ds1 x"), { message: /has no NRI/ });
});
