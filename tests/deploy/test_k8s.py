"""deploy/k8s/: every manifest validates with kubernetes-validate (strict: no unknown field) against the
Kubernetes version stated below; the ServiceMonitor is a Prometheus Operator CRD, which kubernetes-validate has
no schema for, so it is listed as unchecked by it and checked here by hand (it selects the Service, names its
port). And the manifests agree with the image and modelward: probes on /readyz and /healthz, non-root and a
read-only root filesystem, every MODELWARD_ variable is a setting, the ConfigMap's modelward.yaml loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

import modelward
from modelward.config import load_settings

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
KUBERNETES_VERSION = "1.33.0"  # the version docs/operations.md states
UNCHECKED = {("monitoring.coreos.com/v1", "ServiceMonitor")}  # CRDs: no schema in kubernetes-validate


def manifests() -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            out[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return out


@pytest.mark.parametrize("name", sorted(manifests()))
def test_each_manifest_validates_against_the_stated_kubernetes(name: str) -> None:
    doc = manifests()[name]
    if (doc["apiVersion"], doc["kind"]) in UNCHECKED:
        with pytest.raises(kubernetes_validate.SchemaNotFoundError):
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        return
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_a_wrong_field_is_refused() -> None:
    """The validation can fail: a misspelt field of the Deployment is an error in strict mode."""
    doc = manifests()["Deployment/modelward"]
    doc["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_deployment_serves_several_hardened_replicas() -> None:
    docs = manifests()
    deployment = docs["Deployment/modelward"]
    spec = deployment["spec"]
    assert spec["replicas"] >= 2
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == f"modelward:{modelward.__version__}"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
    assert "/tmp" in writable  # serve's runtime directory (multiprocess metrics, the loop's metrics file)
    labels = spec["template"]["metadata"]["labels"]
    for selector in (
        docs["PodDisruptionBudget/modelward"]["spec"]["selector"]["matchLabels"],
        spec["selector"]["matchLabels"],
    ):
        assert selector.items() <= labels.items()
    assert docs["Service/modelward"]["spec"]["selector"].items() <= labels.items()
    secrets = {
        e["valueFrom"]["secretKeyRef"]["key"]
        for e in container["env"]
        if "valueFrom" in e and e["valueFrom"]["secretKeyRef"]["name"] == "modelward-secrets"
    }
    assert secrets == set(docs["Secret/modelward-secrets"]["stringData"])


def test_the_service_monitor_scrapes_the_service() -> None:
    docs = manifests()
    monitor, service = docs["ServiceMonitor/modelward"], docs["Service/modelward"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    ports = {p["name"] for p in service["spec"]["ports"]}
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= ports
    assert {e["path"] for e in monitor["spec"]["endpoints"]} == {"/metrics"}


def test_the_cronjob_is_the_monitor_once_alternative() -> None:
    cron = manifests()["CronJob/modelward-monitor"]
    (container,) = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["monitor", "--once"] and cron["spec"]["suspend"] is True


def test_the_config_and_environment_are_settings_modelward_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = manifests()
    (tmp_path / "modelward.yaml").write_text(docs["ConfigMap/modelward-config"]["data"]["modelward.yaml"])
    (container,) = docs["Deployment/modelward"]["spec"]["template"]["spec"]["containers"]
    for env in container["env"]:
        value = env.get("value", "postgresql+psycopg://u:p@db:5432/x" if "URL" in env["name"] else "a-token")
        monkeypatch.setenv(env["name"], value)
    settings = load_settings(tmp_path)  # unknown keys and bad values are errors
    assert (settings.serve.host, settings.serve.port) == ("0.0.0.0", 8000)
    assert settings.log.spool_dir == "/var/spool/modelward"
    assert settings.loop.lease.ttl_seconds == 30
