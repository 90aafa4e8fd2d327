"""Read template.yaml and create what it declares in the local cloud.

The template stays the single source: function handlers, timeouts and environment
variables, the state machine definition and its substitutions all come from it.
Only what a drill needs is understood (Ref, GetAtt, Sub, parameters' defaults).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import yaml

from drillkit_lab.lambda_runtime import FunctionConfig

ACCOUNT_ID = "123456789012"
SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


# libyaml's parser when PyYAML was built with it (its wheels are): template.yaml loads in 10 ms instead of 75.
SafeLoader = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


class CfnLoader(SafeLoader):  # type: ignore[misc,valid-type]
    """YAML with CloudFormation's short-form tags (!Ref, !GetAtt, !Sub, ...)."""


def _tag(loader: CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise yaml.constructor.ConstructorError(None, None, f"unexpected node for !{suffix}", node.start_mark)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _tag)


def load(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=CfnLoader)  # noqa: S506 (SafeLoader subclass)


class LabStack:
    """Physical names and attributes of the template's resources in the lab."""

    def __init__(self, template: dict[str, Any], stack_name: str, region: str):
        self.template = template
        self.stack_name = stack_name
        self.region = region
        self.resources: dict[str, dict[str, Any]] = template.get("Resources", {})
        self.parameters = {k: str(v.get("Default", "")) for k, v in template.get("Parameters", {}).items()}
        # Resources whose physical id the local cloud chooses (KMS keys): logical id -> {"Ref": ..., "Arn": ...}
        self.assigned: dict[str, dict[str, str]] = {}

    def physical_name(self, logical_id: str) -> str:
        return f"{self.stack_name}-{logical_id}"

    def arn(self, logical_id: str) -> str:
        if logical_id in self.assigned:
            return self.assigned[logical_id]["Arn"]
        kind = self.resources[logical_id]["Type"]
        name = self.physical_name(logical_id)
        return {
            "AWS::Serverless::Function": f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{name}",
            "AWS::Serverless::StateMachine": f"arn:aws:states:{self.region}:{ACCOUNT_ID}:stateMachine:{name}",
            "AWS::SNS::Topic": f"arn:aws:sns:{self.region}:{ACCOUNT_ID}:{name}",
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{self.region}:{ACCOUNT_ID}:table/{name}",
            "AWS::S3::Bucket": f"arn:aws:s3:::{name.lower()}",
        }[kind]

    def ref(self, logical_id: str) -> str:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::StackName": self.stack_name,
        }
        if logical_id in pseudo:
            return pseudo[logical_id]
        if logical_id in self.parameters:
            return self.parameters[logical_id]
        if logical_id in self.assigned:
            return self.assigned[logical_id]["Ref"]
        kind = self.resources[logical_id]["Type"]
        if kind in ("AWS::SNS::Topic", "AWS::Serverless::StateMachine"):
            return self.arn(logical_id)
        if kind == "AWS::S3::Bucket":
            return self.physical_name(logical_id).lower()
        return self.physical_name(logical_id)

    def get_att(self, logical_id: str, attribute: str) -> str:
        if attribute == "Arn":
            return self.arn(logical_id)
        if attribute in ("TopicName", "Name"):
            return self.physical_name(logical_id)
        raise ValueError(f"the lab does not model {logical_id}.{attribute}")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"Ref"}:
                return self.ref(value["Ref"])
            if set(value) == {"Fn::GetAtt"}:
                logical_id, attribute = value["Fn::GetAtt"]
                return self.get_att(logical_id, attribute)
            if set(value) == {"Fn::Sub"}:
                text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]

                def substitute(match: re.Match[str]) -> str:
                    token = match.group(1)
                    if "." in token and not token.startswith("AWS::"):
                        return self.get_att(*token.split(".", 1))
                    return self.ref(token)

                return SUB_VARIABLE.sub(substitute, text)
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == kind}

    def function_configs(self) -> list[FunctionConfig]:
        defaults = self.template.get("Globals", {}).get("Function", {})
        configs = []
        for logical_id, resource in self.of_type("AWS::Serverless::Function").items():
            props = {**defaults, **resource.get("Properties", {})}
            variables = self.resolve(props.get("Environment", {}).get("Variables", {}))
            configs.append(
                FunctionConfig(
                    name=self.physical_name(logical_id),
                    arn=self.arn(logical_id),
                    region=self.region,
                    handler=props["Handler"],
                    timeout=float(props.get("Timeout", 3)),
                    memory=int(props.get("MemorySize", 128)),
                    variables={k: str(v) for k, v in variables.items()},
                )
            )
        return configs


def stand_in_code_zip() -> bytes:
    """The code archive moto stores for a function; invocations run the real code from functions/ instead."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "The lab runs handlers from the functions/ directory, not from this archive.\n")
    return buffer.getvalue()


def provision(stack: LabStack, session: Any, project_root: Path) -> dict[str, Any]:
    """Create the template's table, bucket, KMS keys, topic, functions and state machines; return their names."""
    created: dict[str, Any] = {"functions": {}, "state_machines": {}}
    dynamodb = session.client("dynamodb")
    for logical_id, resource in stack.of_type("AWS::DynamoDB::Table").items():
        props = resource["Properties"]
        dynamodb.create_table(
            TableName=stack.ref(logical_id),
            AttributeDefinitions=props["AttributeDefinitions"],
            KeySchema=props["KeySchema"],
            BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
            **({"GlobalSecondaryIndexes": props["GlobalSecondaryIndexes"]} if props.get("GlobalSecondaryIndexes") else {}),
        )
        created.setdefault("tables", {})[logical_id] = stack.ref(logical_id)
    s3 = session.client("s3")
    for logical_id, resource in stack.of_type("AWS::S3::Bucket").items():
        bucket = stack.ref(logical_id)
        props = stack.resolve(resource.get("Properties", {}))
        s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=bool(props.get("ObjectLockEnabled", False)))
        if "VersioningConfiguration" in props:
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=props["VersioningConfiguration"])
        if "ObjectLockConfiguration" in props:
            s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=props["ObjectLockConfiguration"])
        if "BucketEncryption" in props:
            # CloudFormation says ServerSideEncryptionByDefault where the S3 API says ApplyServerSideEncryptionByDefault.
            rules = [
                {
                    "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                    **({"BucketKeyEnabled": rule["BucketKeyEnabled"]} if "BucketKeyEnabled" in rule else {}),
                }
                for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            ]
            s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": rules})
        if "PublicAccessBlockConfiguration" in props:
            s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"])
        created.setdefault("buckets", {})[logical_id] = bucket
    kms = session.client("kms")
    for logical_id, resource in stack.of_type("AWS::KMS::Key").items():
        props = stack.resolve(resource.get("Properties", {}))
        policy = {"Policy": json.dumps(props["KeyPolicy"])} if "KeyPolicy" in props else {}
        metadata = kms.create_key(
            Description=props.get("Description", logical_id),
            KeySpec=props.get("KeySpec", "SYMMETRIC_DEFAULT"),
            KeyUsage=props.get("KeyUsage", "ENCRYPT_DECRYPT"),
            **policy,
        )["KeyMetadata"]
        stack.assigned[logical_id] = {"Ref": metadata["KeyId"], "Arn": metadata["Arn"]}
        created.setdefault("keys", {})[logical_id] = metadata["Arn"]
    sns = session.client("sns")
    for logical_id in stack.of_type("AWS::SNS::Topic"):
        sns.create_topic(Name=stack.physical_name(logical_id))
        created.setdefault("topics", {})[logical_id] = stack.ref(logical_id)

    iam = session.client("iam")
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    role_arn = iam.create_role(RoleName=f"{stack.stack_name}-execution", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    created["execution_role"] = role_arn
    lambda_client = session.client("lambda")
    code = stand_in_code_zip()
    configs = stack.function_configs()
    for config in configs:
        lambda_client.create_function(
            FunctionName=config.name,
            Runtime="python3.13",
            Role=role_arn,
            Handler=config.handler,
            Code={"ZipFile": code},
            Timeout=int(config.timeout),
            MemorySize=config.memory,
            Environment={"Variables": config.variables},
        )
        created["functions"][config.name] = config
    sfn = session.client("stepfunctions")
    for logical_id, resource in stack.of_type("AWS::Serverless::StateMachine").items():
        props = resource["Properties"]
        definition = (project_root / props["DefinitionUri"]).read_text()
        for key, value in stack.resolve(props.get("DefinitionSubstitutions", {})).items():
            definition = definition.replace("${" + key + "}", str(value))
        arn = sfn.create_state_machine(
            name=stack.physical_name(logical_id),
            definition=definition,
            roleArn=role_arn,
            type=props.get("Type", "STANDARD"),
        )["stateMachineArn"]
        created["state_machines"][logical_id] = arn
    return created
