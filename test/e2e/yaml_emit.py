"""A tiny YAML writer for the configurations the tests generate (JSON is valid YAML 1.2, and
yaml-cpp reads it), so the tests need no PyYAML."""

import json


def dump(value):
    return json.dumps(value, indent=2) + "\n"
