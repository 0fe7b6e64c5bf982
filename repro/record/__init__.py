"""Recording a project: its git source, its dependency lock, its configuration and secret scan."""
