"""ark: disaster recovery for Kubernetes.

Back up the API objects of a cluster (or a part of it) to object storage, snapshot its volumes,
and restore or clone namespaces — into the same cluster, another cluster, region or cloud.
"""

__version__ = "0.1.0"
