"""The run store: run directories and manifests, and the content-addressed object store that keeps sources and closures."""
