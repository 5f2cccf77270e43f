"""The /ogc paths for the service's OpenAPI document."""


def ogc_paths() -> dict:
    return {}
