"""Pure data of the OCI specifications. Standard library only."""
