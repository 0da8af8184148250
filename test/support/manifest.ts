// deploy/kubernetes/procview.yaml as the tests read it: parsed with a YAML library, each object
// checked against the Kubernetes API's OpenAPI schema (kubernetes-models, offline: no cluster,
// no discovery) and returned typed. The live tests run the DaemonSet's pod template itself.
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { DaemonSet, type IDaemonSet } from "kubernetes-models/apps/v1";
import {
  Namespace,
  ResourceQuota,
  ServiceAccount,
  type INamespace,
  type IPodTemplateSpec,
  type IResourceQuota,
  type IServiceAccount,
} from "kubernetes-models/v1";
import { PACKAGE_ROOT } from "../../core/paths.js";

export const MANIFEST = path.join(PACKAGE_ROOT, "deploy", "kubernetes", "procview.yaml");

export type PodTemplate = IPodTemplateSpec;

export interface Manifest {
  namespace: INamespace;
  quota: IResourceQuota;
  serviceAccount: IServiceAccount;
  daemonSet: IDaemonSet;
  /** Every object, in the file's order, as "Kind/name". */
  objects: string[];
}

/** The objects the manifest may hold, each with the model whose schema it must pass. */
const MODELS = {
  "v1/Namespace": (o: unknown) => new Namespace(o as INamespace),
  "v1/ResourceQuota": (o: unknown) => new ResourceQuota(o as IResourceQuota),
  "v1/ServiceAccount": (o: unknown) => new ServiceAccount(o as IServiceAccount),
  "apps/v1/DaemonSet": (o: unknown) => new DaemonSet(o as IDaemonSet),
} as const;
type ModelKey = keyof typeof MODELS;

/** Parses and validates `text` (the manifest's by default); throws with the first problem. */
export function loadManifest(text = readFileSync(MANIFEST, "utf8")): Manifest {
  const found = new Map<ModelKey, unknown>();
  const objects: string[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) throw new Error(`YAML: ${doc.errors[0]!.message}`);
    if (doc.warnings.length) throw new Error(`YAML: ${doc.warnings[0]!.message}`);
    const object = doc.toJS() as { apiVersion?: string; kind?: string; metadata?: { name?: string } } | null;
    if (object === null) continue;
    const key = `${object.apiVersion}/${object.kind}`;
    if (!(key in MODELS)) throw new Error(`unexpected object ${key} in the manifest`);
    if (found.has(key as ModelKey)) throw new Error(`two ${key} objects in the manifest`);
    // validate() checks the object against the API's OpenAPI schema (types, enums, required
    // fields) and throws with the path of the first field that does not fit.
    const model = MODELS[key as ModelKey](object);
    model.validate();
    found.set(key as ModelKey, model.toJSON());
    objects.push(`${object.kind}/${object.metadata?.name ?? "?"}`);
  }
  const get = <T>(key: ModelKey): T => {
    const o = found.get(key);
    if (!o) throw new Error(`no ${key} in the manifest`);
    return o as T;
  };
  return {
    namespace: get<INamespace>("v1/Namespace"),
    quota: get<IResourceQuota>("v1/ResourceQuota"),
    serviceAccount: get<IServiceAccount>("v1/ServiceAccount"),
    daemonSet: get<IDaemonSet>("apps/v1/DaemonSet"),
    objects,
  };
}

/** The DaemonSet's pod template. */
export function podTemplate(m: Manifest = loadManifest()): PodTemplate {
  const template = m.daemonSet.spec?.template;
  if (!template) throw new Error("the DaemonSet has no pod template");
  return template;
}
