from repro.cli import entry

entry()
