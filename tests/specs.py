"""Registry entries for tests (the product's examples: ``dropstream.sandbox.specs``)."""

from dropstream.sandbox.specs import ON_THE_HOUR, registry_json, spec_dict

__all__ = ["ON_THE_HOUR", "registry_json", "spec_dict"]
