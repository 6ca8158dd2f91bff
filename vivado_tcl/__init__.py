"""Jinja2 templates of the Vitis HLS Tcl scripts (package data, loaded by ``nash.codegen.templates``)."""
