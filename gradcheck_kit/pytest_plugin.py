"""pytest plugin (registered through the ``pytest11`` entry point). Loads without torch."""
