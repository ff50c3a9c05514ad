"""Static checks of deploy/: the compose file against the Compose specification's JSON
schema (compose_spec.json from the docker-compose wheel on PyPI, extracted by scripts/setup
test), the Kubernetes manifests against the Kubernetes schemas (kubernetes-validate), and
every container command line they hold, printed as JSON lines for the Swift test to run.

Usage: deploy_check.py REPO_ROOT COMPOSE_SCHEMA
Prints one JSON object: {"compose_errors": [...], "k8s_errors": [...], "k8s_documents": N,
"commands": [[source, [args...]], ...]}.
"""
import glob, json, os, sys
import jsonschema
import yaml
import kubernetes_validate

root, schema_path = sys.argv[1], sys.argv[2]
out = {"compose_errors": [], "k8s_errors": [], "k8s_documents": 0, "commands": []}

with open(schema_path) as f:
    schema = json.load(f)
with open(os.path.join(root, "deploy/compose/docker-compose.yml")) as f:
    compose = yaml.safe_load(f)
validator = jsonschema.Draft7Validator(schema)
out["compose_errors"] = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(compose)]
for name, service in compose.get("services", {}).items():
    if service.get("image", "").startswith("logpipe"):
        out["commands"].append([f"compose:{name}", service["command"]])

version = kubernetes_validate.utils.latest_version()
for path in sorted(glob.glob(os.path.join(root, "deploy/k8s/*.yaml"))):
    with open(path) as f:
        for doc in yaml.safe_load_all(f):
            if not doc:
                continue
            out["k8s_documents"] += 1
            if doc.get("kind") == "Kustomization":
                missing = [r for r in doc.get("resources", []) if not os.path.exists(os.path.join(root, "deploy/k8s", r))]
                if missing:
                    out["k8s_errors"].append(f"{path}: kustomization lists missing files {missing}")
                continue
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                out["k8s_errors"].append(f"{os.path.basename(path)} {doc.get('kind')}/{doc['metadata'].get('name')}: {e.message} at {list(e.path)}")
            except Exception as e:
                out["k8s_errors"].append(f"{os.path.basename(path)} {doc.get('kind')}: {e}")
            spec = doc.get("spec", {}).get("template", {}).get("spec", {})
            for c in spec.get("containers", []):
                if c.get("image", "").startswith("logpipe"):
                    out["commands"].append([f"k8s:{doc['metadata']['name']}", c.get("args", [])])

# The Dockerfile's entrypoint and default command.
with open(os.path.join(root, "Dockerfile")) as f:
    lines = f.read().splitlines()
entry = [json.loads(l.split(None, 1)[1]) for l in lines if l.startswith("ENTRYPOINT ")]
cmd = [json.loads(l.split(None, 1)[1]) for l in lines if l.startswith("CMD ")]
out["dockerfile_entrypoint"] = entry[-1] if entry else None
if cmd:
    out["commands"].append(["dockerfile:CMD", cmd[-1]])
print(json.dumps(out))
