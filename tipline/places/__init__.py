"""The administrative-unit tree and the subtree queries that scope everything else."""
