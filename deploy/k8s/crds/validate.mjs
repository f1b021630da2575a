// Validates the custom resources of rendered manifests (the YAML files named on the
// command line) against their CRDs' schemas, as published in the npm packages of
// kubernetes-models (generated from the CRDs of prometheus-operator and KEDA). Every
// document of another kind must be a built-in Kubernetes kind (kubeconform validates
// those); an unknown custom kind is an error, not a skip.
//
// These schemas check every field they know (types, enums, required fields) but, like
// the CRDs themselves, let through a field they do not know (a misspelt optional key is
// not caught here; the API server would prune it).
import { readFileSync } from "node:fs";
import yaml from "js-yaml";
import { PodMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject";

const custom = {
  "monitoring.coreos.com/v1/PodMonitor": PodMonitor,
  "keda.sh/v1alpha1/ScaledObject": ScaledObject,
};
const builtinGroups = new Set(["v1", "apps/v1", "policy/v1", "autoscaling/v2", "batch/v1", "networking.k8s.io/v1", "rbac.authorization.k8s.io/v1"]);

let failures = 0;
let checked = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of yaml.loadAll(readFileSync(file, "utf8"))) {
    if (!doc) continue;
    const id = `${file}: ${doc.kind}/${doc.metadata?.name}`;
    const model = custom[`${doc.apiVersion}/${doc.kind}`];
    if (!model) {
      if (!builtinGroups.has(doc.apiVersion)) {
        console.error(`${id}: no schema for ${doc.apiVersion} ${doc.kind}`);
        failures++;
      }
      continue;
    }
    try {
      new model(doc).validate();
      checked++;
      console.log(`${id}: valid`);
    } catch (error) {
      console.error(`${id}: ${error.message}`);
      failures++;
    }
  }
}
if (failures > 0) {
  console.error(`${failures} invalid custom resources`);
  process.exit(1);
}
console.log(`${checked} custom resources valid`);
