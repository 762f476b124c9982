"""The network lab: WZP calls through real network-namespace topologies (root only; see docs/LAB.md)."""
