// The hook's settings: flags beat the config file, the config file beats defaults.
import { readFile } from "node:fs/promises";
import { HookConfigFileSchema, PolicySchema, type HookConfigFile, type Policy } from "./schemas.js";
import type { z } from "zod";
import { DEFAULT_MOUNTPOINT, DEFAULT_HOOK_CONFIG, DEFAULT_RUNTIME_DIR } from "../core/paths.js";

export const DEFAULT_POLICY: Policy = "ignore";
export const DEFAULT_PROBE_TIMEOUT_MS = 1500;

export interface HookFlags {
  config?: string;
  source?: string;
  policy?: string;
  probeTimeout?: string;
  runtimeDir?: string;
}

export interface HookSettings {
  source: string;
  policy: Policy;
  probeTimeoutMs: number;
  /** `procview serve`'s --runtime-dir, where the container is registered (core/registry.ts). */
  runtimeDir: string;
}

export class ConfigError extends Error {}

/** Policy from the flags alone, so a broken config file is still reported the way the caller asked. */
export function policyFromFlags(flags: HookFlags): Policy | undefined {
  const parsed = PolicySchema.safeParse(flags.policy);
  return parsed.success ? parsed.data : undefined;
}

export async function loadSettings(flags: HookFlags): Promise<HookSettings> {
  if (flags.policy !== undefined && !PolicySchema.safeParse(flags.policy).success) {
    throw new ConfigError(`--policy must be fail or ignore, got ${JSON.stringify(flags.policy)}`);
  }
  if (flags.source !== undefined && !flags.source.startsWith("/")) {
    throw new ConfigError(`--source must be an absolute path, got ${JSON.stringify(flags.source)}`);
  }
  if (flags.runtimeDir !== undefined && !flags.runtimeDir.startsWith("/")) {
    throw new ConfigError(`--runtime-dir must be an absolute path, got ${JSON.stringify(flags.runtimeDir)}`);
  }
  let probeFlag: number | undefined;
  if (flags.probeTimeout !== undefined) {
    probeFlag = Number(flags.probeTimeout);
    if (!Number.isInteger(probeFlag) || probeFlag < 50 || probeFlag > 30_000) {
      throw new ConfigError(`--probe-timeout must be an integer between 50 and 30000 ms, got ${JSON.stringify(flags.probeTimeout)}`);
    }
  }

  const configPath = flags.config ?? DEFAULT_HOOK_CONFIG;
  let text: string | undefined;
  try {
    text = await readFile(configPath, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // The default file is optional; one named explicitly is not.
    if (!(code === "ENOENT" && flags.config === undefined)) {
      throw new ConfigError(`cannot read config ${configPath}: ${(err as Error).message}`);
    }
  }
  let file: HookConfigFile = {};
  if (text !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      // The parser's message quotes the text: never echo a file's contents.
      throw new ConfigError(`config ${configPath} is not valid JSON`);
    }
    const parsed = HookConfigFileSchema.safeParse(json);
    if (!parsed.success) throw new ConfigError(`config ${configPath} is invalid: ${describeConfigIssues(parsed.error)}`);
    file = parsed.data;
  }
  return {
    source: flags.source ?? file.source ?? DEFAULT_MOUNTPOINT,
    policy: policyFromFlags(flags) ?? file.policy ?? DEFAULT_POLICY,
    probeTimeoutMs: probeFlag ?? file.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS,
    runtimeDir: flags.runtimeDir ?? file.runtimeDir ?? DEFAULT_RUNTIME_DIR,
  };
}

/**
 * What is wrong with a config file, by key and kind, without a value or a key name out of the
 * file: a config path can name any file the hook may read (run as root, possibly for a caller
 * that may not read it), and its error goes to the caller's stderr and to syslog.
 */
export function describeConfigIssues(err: z.ZodError): string {
  return err.issues
    .slice(0, 3)
    .map((issue) => {
      const where = issue.path.length > 0 && issue.code !== "unrecognized_keys" ? `"${issue.path.join(".")}"` : "the file";
      switch (issue.code) {
        case "unrecognized_keys":
          return `${where} has keys procview does not know (it knows source, policy, probeTimeoutMs, runtimeDir)`;
        case "invalid_type":
          return `${where} must be ${issue.expected === "object" ? "a JSON object" : `a ${issue.expected}`}`;
        case "invalid_enum_value":
          return `${where} must be one of ${issue.options.join(", ")}`;
        default:
          // Our own messages (ranges, "must be an absolute path"), which quote nothing.
          return `${where}: ${issue.message}`;
      }
    })
    .join("; ");
}
