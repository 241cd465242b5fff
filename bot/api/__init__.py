"""The integration API (``/api/v1``), its errors and its OpenAPI document."""
