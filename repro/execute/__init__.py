"""Running on a container engine: the engine interface and its Docker implementation, prepare and execute, the reaper."""
