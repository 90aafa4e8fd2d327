"""The drill state machine and the template that deploys it, checked statically."""

from __future__ import annotations

import json
import re

import pytest

from drillkit_lab import template as cfn

from ..conftest import ROOT

ASL = json.loads((ROOT / "statemachines" / "drill.asl.json").read_text())
TEMPLATE = cfn.load(ROOT / "template.yaml")
RESOURCES = TEMPLATE["Resources"]
MACHINE = RESOURCES["DrillStateMachine"]["Properties"]
STATES = ASL["States"]
# States that run once the fault may be in place: each must end in Restore on any error.
AFTER_INJECTION = ["Inject", "Observe"]
LAMBDA_SERVICE_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}


def successors(state: dict) -> set[str]:
    found = {state[key] for key in ("Next", "Default") if key in state}
    found |= {choice["Next"] for choice in state.get("Choices", [])}
    found |= {catch["Next"] for catch in state.get("Catch", [])}
    return found


def test_every_arn_placeholder_is_substituted_by_the_template_and_every_substitution_is_used():
    placeholders = set(re.findall(r"\$\{(\w+)\}", json.dumps(ASL)))
    substitutions = set(MACHINE["DefinitionSubstitutions"])
    assert placeholders == substitutions
    assert MACHINE["DefinitionUri"] == "statemachines/drill.asl.json"


def test_every_task_invokes_a_function_declared_in_the_template():
    for name, state in STATES.items():
        if state["Type"] != "Task":
            continue
        # A callback task (waitForTaskToken) names its function in Parameters.FunctionName instead.
        arn = state["Parameters"]["FunctionName"] if state["Resource"].endswith(".waitForTaskToken") else state["Resource"]
        placeholder = re.fullmatch(r"\$\{(\w+)\}", arn)
        assert placeholder, f"{name} must take its ARN from DefinitionSubstitutions"
        value = MACHINE["DefinitionSubstitutions"][placeholder.group(1)]
        function = value["Fn::GetAtt"][0] if isinstance(value["Fn::GetAtt"], list) else value["Fn::GetAtt"].split(".")[0]
        assert RESOURCES[function]["Type"] == "AWS::Serverless::Function"


def test_every_state_is_reachable_and_every_path_ends():
    seen, frontier = set(), [ASL["StartAt"]]
    while frontier:
        name = frontier.pop()
        if name in seen:
            continue
        seen.add(name)
        frontier.extend(successors(STATES[name]))
    assert seen == set(STATES)
    assert any(state["Type"] == "Succeed" for state in STATES.values())


@pytest.mark.parametrize("name", [*AFTER_INJECTION, "SteadyState"])
def test_states_that_may_follow_an_injection_catch_everything_into_restore(name):
    catches = STATES[name]["Catch"]
    assert any(c["ErrorEquals"] == ["States.ALL"] and c["Next"] == "Restore" for c in catches)


def test_restore_failure_still_reaches_verification_and_only_a_verified_restore_reaches_the_report():
    assert STATES["RestoreDone"]["Default"] == "VerifyRestore"
    assert {c["Next"] for c in STATES["Restore"]["Catch"]} == {"VerifyRestore"}
    assert {c["Next"] for c in STATES["VerifyRestore"]["Catch"]} == {"RestoreVerified"}
    assert STATES["VerifyRestore"]["Next"] == "VerificationDone"
    assert STATES["VerificationDone"]["Default"] == "RestoreVerified"
    choice = STATES["RestoreVerified"]
    [rule] = choice["Choices"]
    assert rule["Next"] == "Report"
    assert {"Variable": "$.verification.verified", "BooleanEquals": True} in rule["And"]
    # Anything else fails the execution: EventBridge then hands the drill to the safety net.
    assert STATES[choice["Default"]] == {
        "Type": "Fail",
        "Error": "RestoreNotVerified",
        "Cause": STATES[choice["Default"]]["Cause"],
    }


def test_restore_is_called_again_after_a_wait_while_an_undo_is_in_progress_and_then_verified():
    assert STATES["Restore"]["Next"] == "RestoreDone"
    choice = STATES["RestoreDone"]
    [rule] = choice["Choices"]
    assert rule["And"] == [
        {"Variable": "$.restore.done", "IsPresent": True},
        {"Variable": "$.restore.done", "BooleanEquals": False},
    ]
    assert rule["Next"] == "RestoreWait" and choice["Default"] == "VerifyRestore"
    wait = STATES["RestoreWait"]
    assert wait == {**wait, "Type": "Wait", "SecondsPath": "$.restore.retry_in_seconds", "Next": "Restore"}


# Events one round of the loop adds to the execution history: TaskStateEntered, LambdaFunctionScheduled,
# LambdaFunctionStarted, LambdaFunctionSucceeded, TaskStateExited, ChoiceStateEntered, ChoiceStateExited,
# WaitStateEntered, WaitStateExited.
EVENTS_PER_RESTORE_ROUND = 9
HISTORY_LIMIT = 25_000


@pytest.mark.parametrize("budget", [1, 30, 60, 300, 1800, 3600, 5400])
def test_a_restore_that_spends_its_whole_budget_stays_far_below_the_history_limit_and_the_machine_timeout(budget):
    from drillkit.drill import restore_retry_in_seconds
    from drillkit.spec import Sampling

    assert budget <= Sampling.model_fields["restore_budget_seconds"].metadata[1].le  # the largest budget a scenario may set
    # The most rounds: the shortest sampling interval a scenario may ask for, so the shortest first waits.
    interval = Sampling.model_fields["interval_seconds"].metadata[0].ge
    waited, rounds = 0, 1
    while waited < budget:
        wait = restore_retry_in_seconds(budget, rounds, interval)
        assert isinstance(wait, int) and 1 <= wait <= 15  # moto and AWS take an integer SecondsPath
        waited, rounds = waited + wait, rounds + 1
    assert rounds * EVENTS_PER_RESTORE_ROUND < HISTORY_LIMIT / 5
    assert budget < ASL["TimeoutSeconds"]


def test_retries_only_name_transient_or_lambda_service_errors():
    for name, state in STATES.items():
        for retry in state.get("Retry", []):
            errors = set(retry["ErrorEquals"])
            assert "States.ALL" not in errors, name
            assert "States.TaskFailed" not in errors, name
            assert errors <= LAMBDA_SERVICE_ERRORS | {"TransientError", "RestoreFailed"}, name


def test_functions_differ_only_by_handler_and_their_own_environment():
    functions = {k: v["Properties"] for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"}
    # One function per task state, plus the safety net that EventBridge calls from outside the machine, plus the
    # game-day machine's one function (its Preflight and Report steps; tests/asl/test_gameday_machine.py).
    assert len(functions) == len([s for s in STATES.values() if s["Type"] == "Task"]) + 1 + 1
    assert "GameDayFunction" in functions
    glob = TEMPLATE["Globals"]["Function"]
    assert glob["CodeUri"] == "functions/" and glob["Runtime"] == "python3.13"
    for name, props in functions.items():
        assert set(props) <= {"Handler", "Environment", "Policies", "Timeout", "Description", "MemorySize", "Events"}, name
        module, _, func = props["Handler"].rpartition(".")
        assert (ROOT / "functions" / (module.replace(".", "/") + ".py")).exists(), name


def statements(node):
    if isinstance(node, dict):
        if "Effect" in node and "Action" in node:
            yield node
        for value in node.values():
            yield from statements(value)
    elif isinstance(node, list):
        for value in node:
            yield from statements(value)


# The statements through which faults change the stack: applying (Inject) and undoing (Restore, safety net).
INJECT_STATEMENTS = (
    "InjectTaggedTargets",
    "InvertHealthCheck",
    "CreateIsolation",
    "CreateIsolationInVpc",
    "TagIsolationAtCreation",
    "SwapNetworkAcls",
    "MoveGlobalWriter",
)
RESTORE_STATEMENTS = (
    "RestoreTaggedTargets",
    "RevertHealthCheck",
    "DeleteIsolation",
    "RestoreNetworkAcls",
    "SwitchGlobalWriterBack",
)
# The replicated stores' heartbeats (data.stores): written and read while sampling, removed by Restore.
STORE_HEARTBEAT_STATEMENTS = ("StoreHeartbeatItems", "StoreHeartbeatObjects")
REMOVE_HEARTBEAT_STATEMENTS = ("RemoveStoreHeartbeats", "RemoveStoreHeartbeatObjects", "ListStoreHeartbeatVersions")
ON_THE_STACK = (
    "DescribeFaultTargets",
    "ReadProbes",
    "HeartbeatCanary",
    "HeartbeatSecret",
    *STORE_HEARTBEAT_STATEMENTS,
    *REMOVE_HEARTBEAT_STATEMENTS,
    *INJECT_STATEMENTS,
    *RESTORE_STATEMENTS,
)
HEARTBEAT_OBJECTS = {"Fn::Sub": "arn:${AWS::Partition}:s3:::*/*drillkit-heartbeat/*"}
# What only one side of a fault does (faults/*.py: apply or restore); the rest (UpdateHealthCheck, SetSecurityGroups,
# UpdateService, PutFunctionConcurrency, ReplaceNetworkAclAssociation, SwitchoverGlobalCluster) both do.
INJECT_ONLY = {
    "elasticloadbalancing:DeregisterTargets",
    "ec2:CreateSecurityGroup",
    "ec2:CreateNetworkAcl",
    "ec2:CreateTags",
    "rds:StopDBCluster",
    "rds:FailoverGlobalCluster",
}
RESTORE_ONLY = {
    "elasticloadbalancing:RegisterTargets",
    "lambda:DeleteFunctionConcurrency",
    "ec2:DeleteSecurityGroup",
    "ec2:DeleteNetworkAcl",
    "rds:StartDBCluster",
}
STACK_SERVICES = ("route53", "elasticloadbalancing", "ecs", "lambda", "ec2", "rds")
READ_ONLY_VERBS = ("Describe", "List", "Get", "Test")
ALLOW_TAGGED = {"StringEquals": {"aws:ResourceTag/drillkit:allow": "true"}}


def actions_of(statement: dict) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def function_actions(logical_id: str) -> set[str]:
    return {a for s in statements(RESOURCES[logical_id]["Properties"]["Policies"]) for a in actions_of(s)}


def changes_the_stack(action: str) -> bool:
    service, verb = action.split(":")
    return service in STACK_SERVICES and not verb.startswith(READ_ONLY_VERBS)


@pytest.mark.parametrize("document", ["template.yaml", "docs/target-account-role.yaml"])
def test_no_action_that_changes_the_stack_is_granted_on_every_resource_without_a_condition(document):
    for statement in statements(cfn.load(ROOT / document)):
        if statement["Effect"] != "Allow" or not any(changes_the_stack(a) for a in actions_of(statement)):
            continue
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        assert "*" not in resources or statement.get("Condition"), statement.get("Sid")
        for resource in resources:
            assert json.dumps(resource).count("*") <= 2, (statement.get("Sid"), resource)  # region and id, no more


def test_iam_enforces_the_allow_tag_where_the_service_evaluates_resource_tags():
    tagged = {s["Sid"]: s for s in statements(RESOURCES) if s.get("Sid") in ("InjectTaggedTargets", "RestoreTaggedTargets")}
    assert set(tagged) == {"InjectTaggedTargets", "RestoreTaggedTargets"}
    for statement in tagged.values():
        assert statement["Condition"] == ALLOW_TAGGED
        assert {a.split(":")[0] for a in statement["Action"]} == {"elasticloadbalancing", "ecs", "lambda", "rds"}
    [health_check] = {json.dumps(s["Resource"]) for s in statements(RESOURCES) if "route53:UpdateHealthCheck" in s["Action"]}
    assert json.loads(health_check) == {"Fn::Sub": "arn:${AWS::Partition}:route53:::healthcheck/*"}


def test_inject_may_only_inject_and_restore_and_the_safety_net_may_only_restore():
    inject, restore, net = (function_actions(f) for f in ("InjectFunction", "RestoreFunction", "SafetyNetFunction"))
    assert INJECT_ONLY <= inject and not inject & RESTORE_ONLY
    assert RESTORE_ONLY <= restore and not restore & INJECT_ONLY
    assert RESTORE_ONLY <= net and not net & INJECT_ONLY
    changers = {
        name
        for name, r in RESOURCES.items()
        if r["Type"] == "AWS::Serverless::Function" and any(changes_the_stack(a) for a in function_actions(name))
    }
    assert changers == {"InjectFunction", "RestoreFunction", "SafetyNetFunction"}


def test_evidence_is_reached_through_the_object_actions_the_store_uses_and_never_deleted():
    evidence_actions = {"s3:GetObject", "s3:PutObject", "s3:ListBucket"}
    for name, resource in RESOURCES.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        policies = resource["Properties"].get("Policies", [])
        assert not any("S3CrudPolicy" in p for p in policies if isinstance(p, dict)), name
        on_evidence = [s for s in statements(policies) if "EvidenceBucket" in json.dumps(s.get("Resource"))]
        s3 = {a for st in on_evidence for a in actions_of(st) if a.startswith("s3:")}
        if "EVIDENCE_BUCKET" in resource["Properties"]["Environment"]["Variables"]:
            assert evidence_actions <= s3 <= evidence_actions | {"s3:GetBucketObjectLockConfiguration"}, name
        else:
            assert not s3, name


def test_the_only_objects_and_items_drillkit_writes_or_deletes_in_the_stack_are_its_heartbeats():
    for statement in statements(RESOURCES):
        writes = [a for a in actions_of(statement) if a.startswith(("s3:Put", "s3:Delete", "dynamodb:Put", "dynamodb:Delete"))]
        if not writes or "LedgerTable" in json.dumps(statement) or "EvidenceBucket" in json.dumps(statement):
            continue
        if any(a.startswith("s3:") for a in writes):
            assert statement["Resource"] == HEARTBEAT_OBJECTS, statement.get("Sid")
        else:
            condition = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
            assert condition == ["drillkit-heartbeat#*"], statement.get("Sid")
    removers = {
        name
        for name, r in RESOURCES.items()
        if r["Type"] == "AWS::Serverless::Function" and "s3:DeleteObjectVersion" in function_actions(name)
    }
    assert removers == {"RestoreFunction", "VerifyRestoreFunction", "SafetyNetFunction"}


def test_no_policy_allows_a_wildcard_action():
    allowed = [s for s in statements(RESOURCES) if s["Effect"] == "Allow"]
    assert allowed, "expected inline policy statements"
    for statement in allowed:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not [a for a in actions if "*" in a], statement


def test_evidence_bucket_is_private_versioned_encrypted_and_tls_only():
    bucket = RESOURCES["EvidenceBucket"]["Properties"]
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    policies = [r["Properties"] for r in RESOURCES.values() if r["Type"] == "AWS::S3::BucketPolicy"]
    statements = [s for p in policies for s in p["PolicyDocument"]["Statement"]]
    assert any(s["Effect"] == "Deny" and s["Condition"]["Bool"]["aws:SecureTransport"] in (False, "false") for s in statements)


def test_evidence_bucket_locks_objects_for_six_years_in_the_mode_the_parameter_chooses():
    bucket = RESOURCES["EvidenceBucket"]["Properties"]
    assert bucket["ObjectLockEnabled"] is True
    rule = bucket["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]
    assert rule == {"Mode": {"Ref": "EvidenceRetentionMode"}, "Days": 2190}
    assert TEMPLATE["Parameters"]["EvidenceRetentionMode"]["Default"] == "GOVERNANCE"
    prod = (ROOT / "samconfig.toml").read_text().split("[prod.deploy.parameters]")[1]
    assert "EvidenceRetentionMode=COMPLIANCE" in prod


def test_only_the_functions_that_seal_reports_may_sign_and_only_with_the_evidence_key():
    key = RESOURCES["EvidenceSigningKey"]["Properties"]
    assert (key["KeySpec"], key["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    for logical_id, resource in RESOURCES.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        kms = [s for s in statements({logical_id: resource}) if any(str(a).startswith("kms:") for a in s["Action"])]
        if logical_id in ("ReportFunction", "SafetyNetFunction", "GameDayFunction"):  # drill reports, game-day reports
            assert kms == [
                {
                    "Sid": "SignEvidenceManifests",
                    "Effect": "Allow",
                    "Action": ["kms:Sign", "kms:GetPublicKey"],
                    "Resource": {"Fn::GetAtt": ["EvidenceSigningKey", "Arn"]},
                }
            ]
            assert resource["Properties"]["Environment"]["Variables"]["SIGNING_KEY_ARN"] == {
                "Fn::GetAtt": ["EvidenceSigningKey", "Arn"]
            }
        else:
            assert kms == [], logical_id


def test_the_safety_net_runs_on_every_execution_of_the_drill_machine_that_ends_aborted_timed_out_or_failed():
    net = RESOURCES["SafetyNetFunction"]["Properties"]
    assert net["Handler"] == "drillkit.handlers.safety_net.lambda_handler"
    # EventBridge starts the safety net's own state machine, whose steps invoke the function: its waits outlast one invocation.
    assert "Events" not in net
    machine = RESOURCES["SafetyNetStateMachine"]["Properties"]
    assert machine["DefinitionSubstitutions"] == {"SafetyNetFunctionArn": {"Fn::GetAtt": ["SafetyNetFunction", "Arn"]}}
    [rule] = machine["Events"].values()
    assert rule["Type"] == "EventBridgeRule"
    pattern = rule["Properties"]["Pattern"]
    assert pattern["source"] == ["aws.states"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert sorted(pattern["detail"]["status"]) == ["ABORTED", "FAILED", "TIMED_OUT"]
    assert pattern["detail"]["stateMachineArn"] == [{"Ref": "DrillStateMachine"}]
    invoke, *logging = machine["Policies"]
    assert invoke == {"LambdaInvokePolicy": {"FunctionName": {"Ref": "SafetyNetFunction"}}}
    assert {a for s in statements(logging) for a in actions_of(s)} == LOG_DELIVERY


# What a state machine's role needs to deliver its execution logs (Step Functions developer guide).
LOG_DELIVERY = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}


def test_every_function_is_traced_by_x_ray():
    # Given the template's function defaults, Then every function traces its invocations (none opts out)
    assert TEMPLATE["Globals"]["Function"]["Tracing"] == "Active"
    functions = {k: v["Properties"] for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"}
    assert all("Tracing" not in props for props in functions.values())


@pytest.mark.parametrize("machine", ["DrillStateMachine", "SafetyNetStateMachine", "GameDayStateMachine"])
def test_every_state_machine_is_traced_and_logs_every_transition_without_execution_data(machine):
    # Given a state machine of the template
    props = RESOURCES[machine]["Properties"]
    # Then it is traced and logs each transition, not the states' data (external ids, task tokens), to its own group
    assert props["Tracing"] == {"Enabled": True}
    logging = props["Logging"]
    assert (logging["Level"], logging["IncludeExecutionData"]) == ("ALL", False)
    [destination] = logging["Destinations"]
    group, attribute = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"]
    assert attribute == "Arn" and RESOURCES[group]["Type"] == "AWS::Logs::LogGroup"
    assert RESOURCES[group]["Properties"]["RetentionInDays"] == 365
    assert RESOURCES[group]["Properties"]["LogGroupName"]["Fn::Sub"].startswith("/aws/vendedlogs/states/")
    # and its role may deliver those logs
    granted = {a for s in statements(props["Policies"]) for a in actions_of(s)}
    assert LOG_DELIVERY <= granted
    # It restores what any fault changed, so it may make every change a fault's restore makes.
    sids = {s.get("Sid") for s in statements({"SafetyNetFunction": RESOURCES["SafetyNetFunction"]})}
    assert {"DescribeFaultTargets", *RESTORE_STATEMENTS} <= sids


@pytest.mark.parametrize(
    ("task", "choice", "result"),
    [("SteadyState", "SteadyStateDone", "$.steady"), ("VerifyRestore", "VerificationDone", "$.verification")],
)
def test_a_wait_longer_than_its_function_continues_in_the_next_invocation_through_the_machine(task, choice, result):
    assert STATES[task]["ResultPath"] == result
    assert STATES[task]["Next"] == choice
    loop = STATES[choice]
    assert loop["Type"] == "Choice"
    # Only an explicit done=false loops: anything else (done, or an error caught into Restore) moves on.
    assert loop["Choices"] == [{"Variable": f"{result}.done", "BooleanEquals": False, "Next": task}]
    assert loop["Default"] == {"SteadyState": "Inject", "VerifyRestore": "RestoreVerified"}[task]


def test_a_drill_has_a_maximum_duration_after_which_the_safety_net_takes_over():
    # TIMED_OUT is one of the statuses the safety net's rule listens to (see the test above).
    assert ASL["TimeoutSeconds"] == 7200
    longest_function = max(
        int(r["Properties"].get("Timeout", TEMPLATE["Globals"]["Function"]["Timeout"]))
        for r in RESOURCES.values()
        if r["Type"] == "AWS::Serverless::Function"
    )
    assert ASL["TimeoutSeconds"] > 4 * longest_function


def test_a_protected_environment_waits_for_a_person_before_anything_is_touched():
    assert STATES["Ready"]["Default"] == "NeedsApproval"
    [rule] = STATES["NeedsApproval"]["Choices"]
    assert rule == {"Variable": "$.drill.approval_required", "BooleanEquals": True, "Next": "AwaitApproval"}
    assert STATES["NeedsApproval"]["Default"] == "SteadyState"
    waiting = STATES["AwaitApproval"]
    assert waiting["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert waiting["Parameters"]["Payload"]["task_token.$"] == "$$.Task.Token"
    assert waiting["TimeoutSecondsPath"] == "$.drill.approval_timeout_seconds"
    assert waiting["Next"] == "SteadyState"
    # Rejected or unanswered: straight to the report, past every state that changes anything.
    assert [c["Next"] for c in waiting["Catch"]] == ["Report"]


def test_the_target_account_role_grants_every_action_drillkit_takes_on_the_stack_and_nothing_else():
    text = (ROOT / "docs" / "target-account-role.yaml").read_text()
    assert not re.search(r": [&*][A-Za-z]", text), "CloudFormation (not SAM) deploys this file: it rejects YAML anchors"
    role = cfn.load(ROOT / "docs" / "target-account-role.yaml")["Resources"]["DrillkitTargetRole"]["Properties"]
    granted = {a for s in statements(role["Policies"]) for a in s["Action"]}
    on_the_stack = {a for s in statements(RESOURCES) if s.get("Sid") in ON_THE_STACK for a in s["Action"]}
    assert granted == on_the_stack
    # Each change is scoped and conditioned there exactly as in the template.
    in_role = {s["Sid"]: s for s in statements(role["Policies"])}
    for sid in (*INJECT_STATEMENTS, *RESTORE_STATEMENTS):
        [mine] = {json.dumps(s, sort_keys=True) for s in statements(RESOURCES) if s.get("Sid") == sid}
        assert in_role[sid] == json.loads(mine), sid
    trust = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert set(trust["Condition"]) == {"StringEquals", "ArnLike"}  # ExternalId and only drillkit's own function roles


def test_every_function_that_reaches_the_stack_may_assume_the_environment_role_and_only_its_pattern():
    for name, resource in RESOURCES.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        sids = {s.get("Sid") for s in statements(resource["Properties"].get("Policies", []))}
        if sids & {"DescribeFaultTargets", "ReadProbes"}:
            assert "AssumeTargetRole" in sids, name
    [assume] = {json.dumps(s, sort_keys=True) for s in statements(RESOURCES) if s.get("Sid") == "AssumeTargetRole"}
    assert json.loads(assume)["Resource"] == {"Ref": "TargetRoleArnPattern"}
