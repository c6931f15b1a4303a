"""Turning a Raspberry Pi into a Sanduq box: the hotspot, its captive DNS, the classroom poster."""
