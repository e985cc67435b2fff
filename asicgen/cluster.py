"""Dask clusters for work split into tasks: sweeps (asicgen.sweep) and gate-level fault
campaigns (asicgen gatesim --cluster). A cluster is a local one (one worker process per core by
default), an existing scheduler, or a batch system (HTCondor, Slurm) through dask-jobqueue.

Its TOML table (in a sweep file, or a file of its own for gatesim):

    [cluster]                           # default: kind = "local", one worker per core
    kind = "local"                      # local | scheduler | slurm | htcondor
    workers = 2                         # local and batch kinds
    address = "tcp://host:8786"         # kind = "scheduler"
    cores = 2                           # batch kinds: per job
    memory = "8GB"
    walltime = "04:00:00"
    queue = "short"                     # optional

Tasks read and write the file system: on a scheduler or a batch system every worker must see
the same paths as the submitting machine (a shared file system).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask_jobqueue
from distributed import Client, LocalCluster

from asicgen.core.raw import ConfigError, check_keys, get_int, get_str, load_config_file

CLUSTER_KINDS = ("local", "scheduler", "slurm", "htcondor")


@dataclass(frozen=True)
class Cluster:
    kind: str = "local"
    workers: int | None = None
    address: str | None = None
    cores: int = 1
    memory: str = "4GB"
    walltime: str = "04:00:00"
    queue: str | None = None

    @classmethod
    def from_raw(cls, raw: Any, where: str) -> Cluster:
        raw = check_keys(raw, where, set(),
                         {"kind", "workers", "address", "cores", "memory", "walltime", "queue"})
        kind = get_str(raw, "kind", where, "local", CLUSTER_KINDS)
        if kind == "scheduler" and "address" not in raw:
            raise ConfigError(f"{where}: kind = \"scheduler\" needs address = \"tcp://host:port\"")
        return cls(kind, get_int(raw, "workers", where, lo=1) if "workers" in raw else None,
                   get_str(raw, "address", where) if "address" in raw else None,
                   get_int(raw, "cores", where, 1, lo=1), get_str(raw, "memory", where, "4GB"),
                   get_str(raw, "walltime", where, "04:00:00"),
                   get_str(raw, "queue", where) if "queue" in raw else None)


def load_cluster(path: Path) -> Cluster:
    """The `[cluster]` table of a TOML file of its own."""
    raw = check_keys(load_config_file(Path(path)), str(path), {"cluster"}, set())
    return Cluster.from_raw(raw["cluster"], f"{path}: cluster")


def make_client(cluster: Cluster):
    """A Dask client on the configured cluster (the caller closes it)."""
    if cluster.kind == "scheduler":
        return Client(cluster.address)
    if cluster.kind == "local":
        # one thread per worker process: TensorFlow and the simulators use the cores themselves
        return Client(LocalCluster(n_workers=cluster.workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None))
    batch = {"slurm": dask_jobqueue.SLURMCluster, "htcondor": dask_jobqueue.HTCondorCluster}[cluster.kind]
    options: dict[str, Any] = {"cores": cluster.cores, "memory": cluster.memory, "walltime": cluster.walltime}
    if cluster.queue and cluster.kind == "slurm":
        options["queue"] = cluster.queue
    batch_cluster = batch(**options)
    batch_cluster.scale(jobs=cluster.workers or 1)
    return Client(batch_cluster)
