"""orderbot: the application (config, assembly, CLI, API; later NLU, router, web pages)."""
