"""Where the lab's physics finds moto's state: the backends it reads (and the server app), in one place.

The physics reads the local cloud's state directly, as AWS's own machinery reads its control plane. Every
patch of moto's behaviour is in extensions.py; this module only looks things up.
"""

from __future__ import annotations

from typing import Any

from drillkit_lab.physics.alb import Backends
from drillkit_lab.template import ACCOUNT_ID


def app() -> Any:
    """moto's server as a WSGI app (each service's backend is imported at its first request)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return DomainDispatcherApplication(create_backend_app)


def route53() -> Any:
    from moto.route53.models import route53_backends

    return route53_backends[ACCOUNT_ID]["aws"]


def region(name: str) -> Backends:
    from moto.acm.models import acm_backends
    from moto.awslambda.models import lambda_backends
    from moto.ec2.models import ec2_backends
    from moto.ecs.models import ecs_backends
    from moto.elbv2.models import elbv2_backends

    return Backends(
        ec2=ec2_backends[ACCOUNT_ID][name],
        elbv2=elbv2_backends[ACCOUNT_ID][name],
        awslambda=lambda_backends[ACCOUNT_ID][name],
        ecs=ecs_backends[ACCOUNT_ID][name],
        acm=acm_backends[ACCOUNT_ID][name],
    )


def cloudwatch() -> Any:
    from moto.cloudwatch.models import cloudwatch_backends

    return cloudwatch_backends[ACCOUNT_ID]


def rds() -> Any:
    from moto.rds.models import rds_backends

    return rds_backends[ACCOUNT_ID]


def dynamodb(region_name: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[ACCOUNT_ID][region_name]


def s3() -> Any:
    """S3's one backend for the partition (each bucket knows its region)."""
    from moto.s3.models import s3_backends

    return s3_backends[ACCOUNT_ID]["aws"]


def iam() -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[ACCOUNT_ID]["global"]


def step_functions(region_name: str, account_id: str = ACCOUNT_ID) -> Any:
    """The Step Functions backend that runs executions (moto's interpreter), not the API-only one."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    return stepfunctions_parser_backends[account_id][region_name]


def execution(execution_arn: str) -> Any | None:
    """An execution as moto's interpreter holds it, by its ARN (None if there is none, or it is no execution's ARN)."""
    parts = execution_arn.split(":")
    if len(parts) != 8 or parts[2] != "states" or parts[5] != "execution":
        return None
    region, account_id = parts[3], parts[4]
    for machine in list(step_functions(region, account_id).state_machines):
        for candidate in list(machine.executions):
            if getattr(candidate, "exec_arn", None) == execution_arn:
                return candidate
    return None


def execution_statuses(state_machine_arn: str) -> list[tuple[str, str]]:
    """Each execution of a state machine with its status, read from the backend (no request, nothing serialized)."""
    backend = step_functions(state_machine_arn.split(":")[3])
    machine = next((m for m in list(backend.state_machines) if m.arn == state_machine_arn), None)
    if machine is None:
        return []
    return [(e.exec_arn, e.exec_status.value) for e in list(machine.executions) if e.exec_status is not None]
