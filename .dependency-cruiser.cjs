// The house rule, checked by `npm run lint`: each folder is one layer, and a module imports
// only from its own layer or the ones below. Bottom up:
//   core → fuse/kernel → fuse/cgroup → fuse/views → fuse/server → fuse/keeper
//   → plan → hook | nri (side by side, never each other) → install → cli
// scripts/ (the build) sees only core/. testbed/ (driving the live machine: cgroups, servers,
// containers) is shared by bench/ and test/; the product never imports it, bench/ never test/,
// and only live tests (*.live.test.ts) use it. test/structure/layers.test.ts shows each rule firing.
const LAYERS = ["core", "fuse/kernel", "fuse/cgroup", "fuse/views", "fuse/server", "fuse/keeper", "plan", "hook|nri", "install", "cli"];
const PRODUCT = "core|fuse|plan|hook|nri|install|cli";
const above = (index) => `^(${LAYERS.slice(index + 1).join("|")}|scripts|bench|test|testbed)/`;

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...LAYERS.map((layer, index) => ({
      name: `no-upward-from-${layer.replace(/[|/]/g, "-")}`,
      comment: `${layer} may import only from the layers below it`,
      severity: "error",
      from: { path: `^(${layer})/` },
      to: { path: above(index) },
    })),
    {
      name: "hook-and-nri-are-siblings",
      comment: "the OCI hook and the NRI plugin share plan/, never each other",
      severity: "error",
      from: { path: "^hook/" },
      to: { path: "^nri/" },
    },
    {
      name: "nri-and-hook-are-siblings",
      comment: "the OCI hook and the NRI plugin share plan/, never each other",
      severity: "error",
      from: { path: "^nri/" },
      to: { path: "^hook/" },
    },
    {
      name: "scripts-see-core-only",
      severity: "error",
      from: { path: "^scripts/" },
      to: { path: `^(fuse|plan|hook|nri|install|cli|bench|test|testbed)/` },
    },
    {
      name: "no-tests-in-the-product",
      comment: "the product, the build, the bench and the test bed never import test code",
      severity: "error",
      from: { path: `^(${PRODUCT}|bench|scripts|testbed)/` },
      to: { path: "^test/" },
    },
    {
      name: "unit-tests-stay-off-the-machine",
      comment:
        "a test that uses testbed/ (cgroups, mounts, containers) drives the live machine: name it *.live.test.ts " +
        "(the unit tier also runs as nobody, which catches what an import cannot show)",
      severity: "error",
      from: { path: "^test/.+[.]test[.]ts$", pathNot: "[.]live[.]test[.]ts$" },
      to: { path: "^testbed/" },
    },
    {
      name: "no-cycles",
      severity: "error",
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(dist|node_modules)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js"] },
  },
};
