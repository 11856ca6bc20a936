"""Containers: the payload binary format, JPEG segments, gain-map JPEG files."""
