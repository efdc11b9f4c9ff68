from sk_safesynth.llm.backend import DEFAULT_MODEL, install_import_hook
install_import_hook()
