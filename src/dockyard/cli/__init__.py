"""The dockyard command: one module per command group; talks only to dockyard.client."""
