// typescript-eslint's recommended type-checked rules over every TypeScript file the project
// compiles; formatting is prettier's job, so no stylistic rules here.
import eslint from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "bench/.build/", "nri/gen/"] },
  eslint.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      // A handle assigned once, after the closures that read it are made (signal handlers set
      // up before the thing they stop), cannot be const.
      "prefer-const": ["error", { ignoreReadBeforeAssign: true }],
      // Unused parameters named with a leading underscore are placeholders in a signature.
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  {
    files: ["eslint.config.js", ".dependency-cruiser.cjs"],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    files: [".dependency-cruiser.cjs"],
    languageOptions: { sourceType: "commonjs", globals: { module: "writable" } },
  },
);
