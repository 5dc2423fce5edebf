"""Phone numbers: normalisation and repair (normalizer), the metadata-derived fast path
(fastpath), numbers inside notes (in_text) and a compact set of numbers (number_set).
"""

from __future__ import annotations

from importer.phones.normalizer import (
    DEFAULT_ALLOWED_TYPES,
    PhoneNormalizer,
    PhonePolicy,
    PhoneResult,
    api_form,
    canonical_from_api,
    describe_type,
    pending_key,
)

__all__ = [
    "DEFAULT_ALLOWED_TYPES",
    "PhoneNormalizer",
    "PhonePolicy",
    "PhoneResult",
    "api_form",
    "canonical_from_api",
    "describe_type",
    "pending_key",
]
