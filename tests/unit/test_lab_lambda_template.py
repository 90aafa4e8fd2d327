"""The Lambda workers' template imports only what reads nothing of a function's environment.

Workers are forked from the template after it imported TEMPLATE_PRELOAD; a module that read, say, the log level or
the function's name while being imported would keep the template's value in every worker instead of its function's.
"""

from __future__ import annotations

import json
import subprocess
import sys

from drillkit_lab.lambda_runtime import TEMPLATE_PRELOAD, FunctionConfig

# Imports the template's modules in a fresh interpreter and prints every environment variable read meanwhile.
READS = """
import importlib, json, os, sys
read = set()
environ = type(os.environ)
get = environ.__getitem__
def tracked(self, name):
    read.add(name)
    return get(self, name)
environ.__getitem__ = tracked
for module in sys.argv[1:]:
    importlib.import_module(module)
print(json.dumps(sorted(read)))
"""
FUNCTION_PREFIXES = ("AWS_", "LAMBDA_", "POWERTOOLS_", "DRILLKIT_", "_HANDLER", "_X_AMZN")


def variables_read_importing(*modules: str) -> list[str]:
    answer = subprocess.run([sys.executable, "-c", READS, *modules], capture_output=True, text=True, check=True)
    return json.loads(answer.stdout)


def test_the_template_reads_none_of_a_functions_environment_while_importing():
    function = FunctionConfig("f", "arn:aws:lambda:us-east-1:123456789012:function:f", "us-east-1", "m.h", 3, 128)
    lambda_variables = set(function.environment("http://127.0.0.1:1"))
    read = variables_read_importing(*TEMPLATE_PRELOAD)
    assert [name for name in read if name in lambda_variables or name.startswith(FUNCTION_PREFIXES)] == []


def test_the_check_sees_a_module_that_reads_the_environment_while_importing():
    # powertools reads AWS_EXECUTION_ENV (its user agent) as it is imported: it must stay out of the template.
    assert "AWS_EXECUTION_ENV" in variables_read_importing("aws_lambda_powertools")
