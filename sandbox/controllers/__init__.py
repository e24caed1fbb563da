"""The simulated cluster's control loops, in the order a fresh write flows through them.

Why a list: the Simulator (sandbox/simulator.py) runs every controller here and nothing else; a
new kind of behaviour is a new module and one entry.
"""

from __future__ import annotations

from sandbox.controllers.base import Controller


def all_controllers() -> list[type[Controller]]:
    from sandbox.controllers.cronjobs import CronJobController
    from sandbox.controllers.daemonsets import DaemonSetController
    from sandbox.controllers.deployments import DeploymentController
    from sandbox.controllers.endpoints import EndpointsController
    from sandbox.controllers.hpa import HorizontalPodAutoscalerController
    from sandbox.controllers.jobs import JobController
    from sandbox.controllers.nodes import NodeController
    from sandbox.controllers.replicasets import ReplicaSetController
    from sandbox.controllers.scheduling import Scheduler
    from sandbox.controllers.snapshots import SnapshotController
    from sandbox.controllers.statefulsets import StatefulSetController
    from sandbox.controllers.storage import StorageController
    from sandbox.controllers.velero import VeleroController
    from sandbox.kubelet import Kubelet

    return [NodeController, StorageController, DeploymentController, ReplicaSetController, StatefulSetController,
            DaemonSetController, CronJobController, JobController, Scheduler, Kubelet, EndpointsController,
            HorizontalPodAutoscalerController, SnapshotController, VeleroController]
