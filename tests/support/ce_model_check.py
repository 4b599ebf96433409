"""Checks a Cost Explorer JSON 1.1 body (or another JSON service's, such as
Cost Optimization Hub's) against botocore's service model.

Usage: ce_model_check.py OPERATION input|output [SERVICE]  (the JSON body on
stdin; SERVICE is botocore's name, "ce" when absent)
Prints one line per problem and exits 1 if there is any: a required member
missing, a member the shape does not have, a wrong type, a value outside an
enum or a numeric range.
"""

import json
import sys

from botocore.loaders import Loader


def check(model, shape_name, value, path, problems):
    shape = model["shapes"][shape_name]
    kind = shape["type"]
    if kind == "structure":
        if not isinstance(value, dict):
            problems.append(f"{path}: expected an object for {shape_name}")
            return
        members = shape.get("members", {})
        for req in shape.get("required", []):
            if req not in value:
                problems.append(f"{path}.{req}: required by {shape_name}, missing")
        for key, sub in value.items():
            if key not in members:
                problems.append(f"{path}.{key}: {shape_name} has no such member")
                continue
            check(model, members[key]["shape"], sub, f"{path}.{key}", problems)
    elif kind == "list":
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list for {shape_name}")
            return
        for i, item in enumerate(value):
            check(model, shape["member"]["shape"], item, f"{path}[{i}]", problems)
    elif kind == "map":
        if not isinstance(value, dict):
            problems.append(f"{path}: expected a map for {shape_name}")
            return
        for k, v in value.items():
            check(model, shape["key"]["shape"], k, f"{path}<key>", problems)
            check(model, shape["value"]["shape"], v, f"{path}[{k}]", problems)
    elif kind == "string":
        if not isinstance(value, str):
            problems.append(f"{path}: expected a string for {shape_name}, got {value!r}")
            return
        if "enum" in shape and value not in shape["enum"]:
            problems.append(f"{path}: {value!r} is not one of {shape['enum']}")
        if "pattern" in shape:
            import re

            if not re.search(shape["pattern"], value):
                problems.append(f"{path}: {value!r} does not match {shape['pattern']}")
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{path}: expected an integer for {shape_name}, got {value!r}")
            return
        if "min" in shape and value < shape["min"]:
            problems.append(f"{path}: {value} is under the minimum {shape['min']}")
        if "max" in shape and value > shape["max"]:
            problems.append(f"{path}: {value} is over the maximum {shape['max']}")
    elif kind in ("double", "float"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            problems.append(f"{path}: expected a number for {shape_name}, got {value!r}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{path}: expected a boolean for {shape_name}")
    elif kind == "timestamp":
        if not isinstance(value, (int, float, str)):
            problems.append(f"{path}: expected a timestamp for {shape_name}")
    else:
        problems.append(f"{path}: shape type {kind} is not checked")


def main():
    operation, direction = sys.argv[1], sys.argv[2]
    service = sys.argv[3] if len(sys.argv) > 3 else "ce"
    model = Loader().load_service_model(service, "service-2")
    op = model["operations"][operation]
    shape = op["input" if direction == "input" else "output"]["shape"]
    body = json.load(sys.stdin)
    problems = []
    check(model, shape, body, operation, problems)
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
