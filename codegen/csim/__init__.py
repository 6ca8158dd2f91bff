"""g++ C simulation of the rendered project: build, ctypes library, comparison with the integer reference."""
