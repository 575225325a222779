"""Classes that Feast loads by class path from ``feature_store.yaml``."""
