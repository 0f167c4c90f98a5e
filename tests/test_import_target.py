"""import_target: the one way registered "package.module:attribute" strings become code."""

from __future__ import annotations

import pytest

from destinations.registry import DESTINATION_TYPES, destination_class
from headwater.import_target import import_target


def test_a_target_names_the_attribute_of_its_module():
    assert import_target("destinations.meta:MetaConversions").type_name == "meta_conversions"
    assert all(destination_class(name).type_name == name for name in DESTINATION_TYPES)


@pytest.mark.parametrize("target", ["destinations.meta", "destinations.meta:", ":MetaConversions", ""])
def test_a_string_without_module_and_attribute_is_refused_with_the_expected_form(target):
    with pytest.raises(ValueError, match="'package.module:attribute'"):
        import_target(target)


def test_a_missing_attribute_or_module_is_the_import_error_python_gives():
    with pytest.raises(AttributeError):
        import_target("destinations.meta:NoSuchDestination")
    with pytest.raises(ModuleNotFoundError):
        import_target("destinations.no_such_module:Thing")
