"""Content for Sanduq boxes: the authoring format, the bundle format, the demo library."""
