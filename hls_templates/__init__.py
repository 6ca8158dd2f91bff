"""Jinja2 templates and static sources of the Vitis HLS project (package data, loaded by ``nash.codegen.templates``)."""
