import importlib as il


def load(name: str):
    return il.import_module(f"plugins_{name}")
