"""Tools run by people and setup, never imported by the server: importer, model preparation, evaluation, synthesis."""
