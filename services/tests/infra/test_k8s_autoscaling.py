"""Horizontal scaling (infra/k8s/hpa.yaml) of analytics and search: each rule targets the service's
Deployment, scales on something the pods request, and never goes below the Deployment's replicas
or its disruption budget."""

from __future__ import annotations

import pytest

from .test_k8s_manifests import (
    K8S,
    Doc,
    deployment_of,
    kustomization,
    load,
    main_container,
    named,
    pod_labels,
    selects,
)

SCALED = ("analytics", "search")


@pytest.fixture(scope="module")
def base() -> list[Doc]:
    return [doc for name in kustomization()["resources"] for doc in load(K8S / name)]


def autoscaler_of(docs: list[Doc], service: str) -> Doc:
    deployment = deployment_of(docs, service)
    found = [h for h in named(docs, "HorizontalPodAutoscaler").values()
             if h["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                                 "name": deployment["metadata"]["name"]}]
    assert len(found) == 1, f"{len(found)} autoscalers target {service}"
    return found[0]


def test_only_analytics_and_search_are_autoscaled(base: list[Doc]) -> None:
    targets = {h["spec"]["scaleTargetRef"]["name"] for h in named(base, "HorizontalPodAutoscaler").values()}
    assert targets == {deployment_of(base, s)["metadata"]["name"] for s in SCALED}


@pytest.mark.parametrize("service", SCALED)
def test_scaling_rule_fits_the_deployment(base: list[Doc], service: str) -> None:
    autoscaler = autoscaler_of(base, service)
    deployment = deployment_of(base, service)
    spec = autoscaler["spec"]
    assert autoscaler["apiVersion"] == "autoscaling/v2"
    assert spec["minReplicas"] == deployment["spec"]["replicas"] < spec["maxReplicas"]
    budgets = [b for b in named(base, "PodDisruptionBudget").values()
               if selects(b["spec"]["selector"]["matchLabels"], pod_labels(deployment))]
    assert all(b["spec"]["minAvailable"] < spec["minReplicas"] for b in budgets)
    requests = main_container(deployment)["resources"]["requests"]
    for metric in spec["metrics"]:
        assert metric["type"] == "Resource", "only metrics every cluster has (metrics-server)"
        assert metric["resource"]["name"] in requests, "utilisation is measured against the request"
        assert 0 < metric["resource"]["target"]["averageUtilization"] <= 90
    assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 60
